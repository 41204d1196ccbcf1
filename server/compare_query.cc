#include "server/compare_query.h"

#include <algorithm>
#include <cmath>
#include <map>

#include "common/input_limits.h"
#include "server/comparability.h"
#include "server/join_query.h"

namespace qlab::server {
namespace {

using nlohmann::json;

// Rows listed at most (moved and unmoved each); the counts stay exact past it.
constexpr size_t kMaxListed = 10000;

struct Side {
  std::vector<storage::ResultRow> rows;
  std::map<std::string, std::vector<size_t>> by_params;  // canonical params -> rows
};

StatusOr<Side> ReadSide(storage::JobStore& store, int64_t experiment_id) {
  Side side;
  ASSIGN_OR_RETURN(side.rows, ReadResultRows(store, experiment_id, "", /*succeeded_only=*/true));
  if (side.rows.size() > static_cast<size_t>(kMaxJoinedRows)) {
    return Status::InvalidArgument("a, b: more than " + std::to_string(kMaxJoinedRows) +
                                   " succeeded jobs on one side; compare smaller experiments");
  }
  for (size_t i = 0; i < side.rows.size(); ++i) {
    const json params = json::parse(side.rows[i].params_json, nullptr, false);
    side.by_params[CanonicalJson(params).dump()].push_back(i);
  }
  return side;
}

struct Estimate {
  double mean = 0, se = 0;
  int n = 0;
  bool higher_is_better = false;
  std::string source;  // "repeats" | "stderr" | "none"
  std::vector<int64_t> job_ids;
};

// The metric `name` over the rows `at` of `side`; n = 0 when no row has it.
Estimate EstimateOf(const Side& side, const std::vector<size_t>& at, const std::string& name) {
  Estimate e;
  std::vector<double> values;
  double stored_se2 = 0;
  for (size_t i : at) {
    for (const Metric& m : side.rows[i].metrics) {
      if (m.name != name) continue;
      values.push_back(m.value);
      stored_se2 += m.stderr_value * m.stderr_value;
      e.higher_is_better = m.higher_is_better;
      e.job_ids.push_back(side.rows[i].job_id);
    }
  }
  e.n = static_cast<int>(values.size());
  if (e.n == 0) return e;
  for (double v : values) e.mean += v;
  e.mean /= e.n;
  if (e.n >= 2) {
    double ss = 0;
    for (double v : values) ss += (v - e.mean) * (v - e.mean);
    e.se = std::sqrt(ss / (e.n - 1) / e.n);
    e.source = "repeats";
  } else {
    e.se = std::sqrt(stored_se2);
    e.source = e.se > 0 ? "stderr" : "none";
  }
  return e;
}

json KeysOf(storage::JobStore& store, const Side& side, std::string* dominant_context) {
  json out = json::array();
  for (const auto& k : CountKeys(side.rows)) {
    auto job = store.GetJob(k.example_job_id);
    const std::string context = job.ok() ? job->comparability.context_json : "";
    if (out.empty()) *dominant_context = context;
    out.push_back({{"key", k.key}, {"jobs", k.rows},
                   {"summary", context.empty() ? "no context reported" : ContextSummary(context)}});
  }
  return out;
}

}  // namespace

StatusOr<json> RunCompareQuery(storage::JobStore& store, const CompareQuery& q) {
  if (q.a.empty() || q.b.empty()) return Status::InvalidArgument("a and b: name two experiments");
  RETURN_IF_ERROR(CheckSize(q.a.size(), kMaxNameBytes, "a"));
  RETURN_IF_ERROR(CheckSize(q.b.size(), kMaxNameBytes, "b"));
  if (!std::isfinite(q.threshold_sigma) || q.threshold_sigma < 0) {
    return Status::InvalidArgument("threshold_sigma must be a finite number >= 0");
  }
  const double threshold = q.threshold_sigma > 0 ? q.threshold_sigma : 3.0;
  ASSIGN_OR_RETURN(auto ea, store.GetExperiment(q.a, 0));
  ASSIGN_OR_RETURN(auto eb, store.GetExperiment(q.b, 0));
  ASSIGN_OR_RETURN(Side a, ReadSide(store, ea.id));
  ASSIGN_OR_RETURN(Side b, ReadSide(store, eb.id));

  json moved = json::array(), unmoved = json::array();
  int64_t pairs = 0, compared = 0, moved_count = 0, no_noise = 0;
  for (const auto& [params, rows_a] : a.by_params) {
    auto other = b.by_params.find(params);
    if (other == b.by_params.end()) continue;
    ++pairs;
    std::vector<std::string> names;
    for (size_t i : rows_a) {
      for (const Metric& m : a.rows[i].metrics) {
        if (std::find(names.begin(), names.end(), m.name) == names.end()) names.push_back(m.name);
      }
    }
    for (const std::string& name : names) {
      const Estimate ma = EstimateOf(a, rows_a, name);
      const Estimate mb = EstimateOf(b, other->second, name);
      if (ma.n == 0 || mb.n == 0) continue;
      ++compared;
      const double delta = mb.mean - ma.mean;
      const double noise = std::sqrt(ma.se * ma.se + mb.se * mb.se);
      const bool known = noise > 0;
      const double sigmas = known ? std::fabs(delta) / noise : 0;
      const bool is_moved = known && sigmas > threshold;
      if (!known) ++no_noise;
      if (is_moved) ++moved_count;
      if (!is_moved && !q.include_unmoved) continue;
      json entry = {{"params", json::parse(a.rows[rows_a.front()].params_json, nullptr, false)},
                    {"metric", name},
                    {"a", ma.mean},
                    {"b", mb.mean},
                    {"delta", delta},
                    {"relative", ma.mean != 0 ? delta / std::fabs(ma.mean) : 0.0},
                    {"noise", noise},
                    {"sigmas", sigmas},
                    {"noise_source", ma.source == mb.source ? ma.source : ma.source + "/" + mb.source},
                    {"runs_a", ma.n},
                    {"runs_b", mb.n},
                    {"job_ids_a", ma.job_ids},
                    {"job_ids_b", mb.job_ids},
                    {"direction", delta == 0 ? "same"
                                  : (delta > 0) == ma.higher_is_better ? "better"
                                                                       : "worse"}};
      json& list = is_moved ? moved : unmoved;
      if (list.size() < kMaxListed) list.push_back(std::move(entry));
    }
  }
  auto by_sigmas = [](const json& x, const json& y) {
    return x["sigmas"].get<double>() > y["sigmas"].get<double>();
  };
  std::sort(moved.begin(), moved.end(), by_sigmas);
  std::string context_a, context_b;
  json keys_a = KeysOf(store, a, &context_a);
  json keys_b = KeysOf(store, b, &context_b);
  json diff = json::array();
  for (const auto& d : DiffContexts(context_a, context_b)) {
    diff.push_back({{"field", d.field}, {"a", d.a}, {"b", d.b}});
  }
  json out = {{"a", ea.name},           {"b", eb.name},
              {"threshold_sigma", threshold},
              {"pairs", pairs},         {"compared", compared},
              {"moved_count", moved_count},
              {"no_noise", no_noise},   {"moved", moved},
              {"context_diff", diff},   {"keys_a", keys_a},
              {"keys_b", keys_b}};
  if (q.include_unmoved) out["unmoved"] = unmoved;
  return out;
}

}  // namespace qlab::server
