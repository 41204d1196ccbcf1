// qlab results and qlab pareto: an experiment's rows as a table, JSON or CSV, and its frontier.
#include "cli/commands.h"

#include <algorithm>
#include <cstdio>
#include <map>
#include <set>

#include "cli/table.h"
#include "common/results_csv.h"
#include "common/text_format.h"

namespace qlab::cli {

using nlohmann::json;
using ojson = nlohmann::ordered_json;

// ---- results ----------------------------------------------------------------------------------

namespace {

struct ResultTable {
  std::vector<v1::ResultRow> rows;
  std::vector<std::string> param_keys;   // params that differ between rows, first-seen order
  std::vector<std::string> metric_names; // every metric, first-seen order
};

StatusOr<std::vector<v1::ResultRow>> FetchResults(Client& c, const std::string& experiment,
                                                  const std::string& filter) {
  std::vector<v1::ResultRow> rows;
  std::string token;
  do {
    v1::QueryResultsRequest req;
    req.set_experiment(experiment);
    req.set_page_token(token);
    req.set_filter(filter);
    v1::QueryResultsResponse resp;
    grpc::Status st = c.results().QueryResults(c.Ctx(120).get(), req, &resp);
    if (!st.ok()) return FromGrpc(st);
    for (auto& r : *resp.mutable_rows()) rows.push_back(std::move(r));
    token = resp.next_page_token();
  } while (!token.empty());
  return rows;
}

ResultTable BuildTable(std::vector<v1::ResultRow> rows, bool all_params) {
  ResultTable t;
  t.rows = std::move(rows);
  std::map<std::string, std::set<std::string>> values;
  std::vector<std::string> order;
  std::set<std::string> seen_metrics;
  for (const auto& r : t.rows) {
    json p = json::parse(r.params_json(), nullptr, false);
    if (p.is_object()) {
      for (const auto& [k, v] : p.items()) {
        if (!values.count(k)) order.push_back(k);
        values[k].insert(v.dump());
      }
    }
    for (const auto& m : r.metrics()) {
      if (seen_metrics.insert(m.name()).second) t.metric_names.push_back(m.name());
    }
  }
  for (const auto& k : order) {
    if (all_params || values[k].size() > 1 || t.rows.size() == 1) t.param_keys.push_back(k);
  }
  return t;
}

// The CSV as the server streams it, written as it arrives: a million rows cost no memory here.
int ExportCsv(Client& c, const std::string& experiment, const std::string& filter) {
  v1::ExportResultsRequest req;
  req.set_experiment(experiment);
  req.set_filter(filter);
  req.set_format(v1::ExportResultsRequest::FORMAT_CSV);
  auto ctx = c.StreamCtx();
  auto reader = c.results().ExportResults(ctx.get(), req);
  v1::ExportResultsChunk chunk;
  while (reader->Read(&chunk)) {
    std::fwrite(chunk.data().data(), 1, chunk.data().size(), stdout);
  }
  grpc::Status st = reader->Finish();
  if (!st.ok()) return Fail(FromGrpc(st), "results");
  return 0;
}

const v1::Metric* FindMetric(const v1::ResultRow& r, const std::string& name) {
  for (const auto& m : r.metrics()) {
    if (m.name() == name) return &m;
  }
  return nullptr;
}

}  // namespace

int CmdResults(Client& c, const std::string& experiment, const std::string& filter, bool as_json,
               bool as_csv, const std::string& sort_by, const std::vector<std::string>& only_metrics,
               const std::string& join, const std::vector<std::string>& on,
               const std::string& keys) {
  if (!join.empty() || !on.empty()) {
    if (as_csv) {
      std::fprintf(stderr, "qlab results: --csv does not apply to --join (its unmatched rows have "
                           "no place in one table); use --json or the table\n");
      return 2;
    }
    return CmdResultsJoined(c, experiment, join, on, filter, as_json, sort_by, only_metrics, keys);
  }
  if (as_csv && sort_by.empty()) return ExportCsv(c, experiment, filter);
  auto rows = FetchResults(c, experiment, filter);
  if (!rows.ok()) return Fail(rows.status(), "results");
  if (!sort_by.empty()) {
    std::stable_sort(rows->begin(), rows->end(), [&](const auto& a, const auto& b) {
      const v1::Metric* ma = FindMetric(a, sort_by);
      const v1::Metric* mb = FindMetric(b, sort_by);
      if (!ma || !mb) return ma != nullptr;
      return ma->value() < mb->value();
    });
  }
  if (as_json) {
    ojson out = ojson::array();
    for (const auto& r : *rows) {
      ojson metrics = ojson::object();
      for (const auto& m : r.metrics()) metrics[m.name()] = m.value();
      ojson row = {{"job_id", r.job_id()},
                   {"experiment", r.experiment()},
                   {"kind", r.kind()},
                   {"state", StateName(r.state())},
                   {"params", ojson::parse(r.params_json(), nullptr, false)},
                   {"metrics", metrics}};
      if (!r.last_error().empty() && r.state() == v1::JOB_STATE_FAILED) row["error"] = r.last_error();
      row["comparability_key"] = r.comparability_key();
      row["environment_key"] = r.environment_key();
      row["backend"] = r.backend();
      row["flag"] = r.flag();
      out.push_back(std::move(row));
    }
    std::printf("%s\n", out.dump(2).c_str());
    return 0;
  }
  if (as_csv) {
    std::vector<ResultLine> lines;
    for (const auto& r : *rows) {
      ResultLine line{r.job_id(), r.experiment(), r.kind(), StateName(r.state()), r.params_json(), {},
                      r.comparability_key(), r.environment_key(), r.backend(), r.flag()};
      for (const auto& m : r.metrics()) line.metrics.emplace_back(m.name(), m.value());
      lines.push_back(std::move(line));
    }
    std::fputs(ResultsCsv(lines).c_str(), stdout);
    return 0;
  }
  ResultTable t = BuildTable(std::move(rows).value(), /*all_params=*/false);
  if (!only_metrics.empty()) t.metric_names = only_metrics;
  std::vector<std::string> header = {"job_id", "state"};
  header.insert(header.end(), t.param_keys.begin(), t.param_keys.end());
  header.insert(header.end(), t.metric_names.begin(), t.metric_names.end());
  std::vector<std::vector<std::string>> cells;
  for (const auto& r : t.rows) {
    std::vector<std::string> line = {std::to_string(r.job_id()), StateName(r.state())};
    json p = json::parse(r.params_json(), nullptr, false);
    for (const auto& k : t.param_keys) line.push_back(p.is_object() && p.contains(k) ? ParamText(p[k]) : "");
    for (const auto& name : t.metric_names) {
      const v1::Metric* m = FindMetric(r, name);
      line.push_back(m ? FormatShort(m->value()) : "");
    }
    cells.push_back(std::move(line));
  }
  std::fputs(FormatTable(header, cells).c_str(), stdout);
  return 0;
}

void PrintKeyGroups(const v1::ParetoResponse& resp) {
  if (!resp.warning().empty()) {
    std::fprintf(stderr, "qlab pareto: %s:\n", resp.warning().c_str());
    for (const auto& g : resp.key_groups()) {
      std::fprintf(stderr, "  key %s  %lld points  %s\n",
                   g.key().empty() ? "(none)" : g.key().c_str(), (long long)g.points(),
                   g.summary().c_str());
    }
  }
  if (resp.excluded_fallbacks() > 0) {
    std::fprintf(stderr, "qlab pareto: %lld points left out: a fallback kernel produced them "
                 "(--include-fallbacks keeps them)\n", (long long)resp.excluded_fallbacks());
  }
}

int CmdPareto(Client& c, const std::string& experiment, const std::string& filter,
              const std::string& x, const std::string& y, const std::string& x_dir,
              const std::string& y_dir, bool as_json, bool all_points, const std::string& join,
              const std::vector<std::string>& on, const std::string& keys,
              bool include_fallbacks) {
  v1::ParetoRequest req;
  req.set_keys(keys);
  req.set_include_fallbacks(include_fallbacks);
  req.set_join(join);
  for (const auto& k : on) req.add_on(k);
  req.set_experiment(experiment);
  req.set_filter(filter);
  req.set_x_metric(x);
  req.set_y_metric(y);
  auto dir = [](const std::string& d) {
    if (d == "max") return v1::ParetoRequest::DIRECTION_MAXIMIZE;
    if (d == "min") return v1::ParetoRequest::DIRECTION_MINIMIZE;
    return v1::ParetoRequest::DIRECTION_UNSPECIFIED;
  };
  req.set_x_direction(dir(x_dir));
  req.set_y_direction(dir(y_dir));
  v1::ParetoResponse resp;
  grpc::Status st = c.results().Pareto(c.Ctx(120).get(), req, &resp);
  if (!st.ok()) return Fail(st, "pareto");
  PrintKeyGroups(resp);
  const bool grouped = resp.key_groups_size() > 1;
  if (!join.empty() || !on.empty()) return PrintJoinedPareto(experiment, join, on, x, y, resp, as_json, all_points);
  std::vector<std::string> varying;
  {
    std::map<std::string, std::set<std::string>> values;
    std::vector<std::string> order;
    for (const auto& p : resp.points()) {
      json j = json::parse(p.params_json(), nullptr, false);
      if (!j.is_object()) continue;
      for (const auto& [k, v] : j.items()) {
        if (!values.count(k)) order.push_back(k);
        values[k].insert(v.dump());
      }
    }
    for (const auto& k : order) {
      if (values[k].size() > 1) varying.push_back(k);
    }
  }
  if (as_json) {
    ojson out = ojson::array();
    for (const auto& p : resp.points()) {
      if (!all_points && !p.on_frontier()) continue;
      out.push_back({{"job_id", p.job_id()}, {x, p.x()}, {y, p.y()}, {"on_frontier", p.on_frontier()},
                     {"params", ojson::parse(p.params_json(), nullptr, false)},
                     {"environment_key", p.key()}});
    }
    std::printf("%s\n", out.dump(2).c_str());
    return 0;
  }
  std::vector<std::string> header = {"job_id"};
  if (grouped) header.push_back("environment");
  header.insert(header.end(), varying.begin(), varying.end());
  header.push_back(x + (resp.x_maximized() ? " (max)" : " (min)"));
  header.push_back(y + (resp.y_maximized() ? " (max)" : " (min)"));
  if (all_points) header.push_back("frontier");
  std::vector<std::vector<std::string>> cells;
  int frontier = 0;
  for (const auto& p : resp.points()) {
    frontier += p.on_frontier();
    if (!all_points && !p.on_frontier()) continue;
    std::vector<std::string> line = {std::to_string(p.job_id())};
    if (grouped) line.push_back(p.key().empty() ? "(none)" : p.key().substr(0, 8));
    json j = json::parse(p.params_json(), nullptr, false);
    for (const auto& k : varying) line.push_back(j.is_object() && j.contains(k) ? ParamText(j[k]) : "");
    line.push_back(FormatShort(p.x()));
    line.push_back(FormatShort(p.y()));
    if (all_points) line.push_back(p.on_frontier() ? "*" : "");
    cells.push_back(std::move(line));
  }
  std::printf("Pareto frontier of %s: %d of %d points (%s vs %s)\n", experiment.c_str(), frontier,
              resp.points_size(), y.c_str(), x.c_str());
  std::fputs(FormatTable(header, cells).c_str(), stdout);
  return 0;
}

}  // namespace qlab::cli
