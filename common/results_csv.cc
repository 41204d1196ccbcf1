#include "common/results_csv.h"

#include <map>
#include <set>

#include <nlohmann/json.hpp>

#include "common/text_format.h"

namespace qlab {

std::string ResultsCsv(const std::vector<ResultLine>& rows) {
  std::vector<nlohmann::json> params(rows.size());
  std::vector<std::string> param_keys, metric_names;
  std::set<std::string> seen_params, seen_metrics;
  for (size_t i = 0; i < rows.size(); ++i) {
    params[i] = nlohmann::ordered_json::parse(rows[i].params_json, nullptr, false);
    if (params[i].is_object()) {
      for (const auto& [k, v] : params[i].items()) {
        if (seen_params.insert(k).second) param_keys.push_back(k);
      }
    }
    for (const auto& [name, value] : rows[i].metrics) {
      if (seen_metrics.insert(name).second) metric_names.push_back(name);
    }
  }
  std::vector<std::string> header = {"job_id", "experiment", "kind", "state"};
  for (const auto& k : param_keys) header.push_back("params." + k);
  for (const auto& m : metric_names) header.push_back("metrics." + m);
  for (const char* k : {"comparability_key", "environment_key", "backend", "flag"}) header.push_back(k);
  std::string out = CsvLine(header);
  for (size_t i = 0; i < rows.size(); ++i) {
    const ResultLine& r = rows[i];
    std::vector<std::string> line = {std::to_string(r.job_id), r.experiment, r.kind, r.state};
    for (const auto& k : param_keys) {
      if (!params[i].is_object() || !params[i].contains(k)) {
        line.emplace_back();
      } else {
        const auto& v = params[i][k];
        line.push_back(v.is_string() ? v.get<std::string>() : v.dump());
      }
    }
    std::map<std::string, double> by_name(r.metrics.begin(), r.metrics.end());
    for (const auto& m : metric_names) {
      auto it = by_name.find(m);
      line.push_back(it == by_name.end() ? "" : FormatNumber(it->second));
    }
    for (const std::string* v : {&r.comparability_key, &r.environment_key, &r.backend, &r.flag}) {
      line.push_back(*v);
    }
    out += CsvLine(line);
  }
  return out;
}

}  // namespace qlab
