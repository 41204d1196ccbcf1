#include "server/pareto_query.h"

#include <algorithm>
#include <map>
#include <numeric>

#include "server/comparability.h"
#include "server/pareto.h"

#include "common/input_limits.h"

namespace qlab::server {
namespace {

bool Maximize(ParetoDirection d, bool own) {
  return d == ParetoDirection::kMaximize || (d == ParetoDirection::kAuto && own);
}

// Which points to return, x ascending (ties by id): all, or every frontier point and an even
// sample of the rest, max_points in all.
std::vector<size_t> KeptPoints(const std::vector<ParetoInput>& points, const std::vector<bool>& on,
                               int64_t max_points) {
  std::vector<size_t> keep;
  const int64_t total = static_cast<int64_t>(points.size());
  if (max_points > 0 && total > max_points) {
    int64_t frontier = 0;
    for (bool f : on) frontier += f;
    const int64_t budget = std::max<int64_t>(0, max_points - frontier);
    const int64_t dominated = total - frontier;
    int64_t seen = 0;
    for (size_t i = 0; i < points.size(); ++i) {
      if (on[i] || (budget > 0 && (seen++ * budget) % dominated < budget)) keep.push_back(i);
    }
  } else {
    keep.resize(points.size());
    std::iota(keep.begin(), keep.end(), 0);
  }
  std::sort(keep.begin(), keep.end(), [&](size_t a, size_t b) {
    return points[a].x != points[b].x ? points[a].x < points[b].x : points[a].id < points[b].id;
  });
  return keep;
}

// The frontier of each environment key's points on its own (keys "group"), or of all (keys
// "mix"); fills the result's key groups and warning. `example_job` gives a job per key to
// describe it.
StatusOr<std::vector<bool>> GroupedFrontier(storage::JobStore& store, const ParetoQuery& q,
                                            const std::vector<ParetoInput>& points,
                                            const std::vector<std::string>& keys,
                                            const std::vector<int64_t>& example_job,
                                            ParetoResult* out) {
  std::map<std::string, std::vector<size_t>> groups;
  for (size_t i = 0; i < points.size(); ++i) groups[keys[i]].push_back(i);
  for (const auto& [key, members] : groups) {
    out->key_groups.push_back({key, static_cast<int64_t>(members.size()), ""});
  }
  std::stable_sort(out->key_groups.begin(), out->key_groups.end(),
                   [](const ParetoKeyGroup& a, const ParetoKeyGroup& b) { return a.points > b.points; });
  for (auto& g : out->key_groups) {
    // A joined key is "A+B": describe A's environment, and B's when it has one.
    const size_t first = groups[g.key].front();
    auto job = store.GetJob(example_job[first]);
    if (job.ok()) g.summary = ContextSummary(job->comparability.context_json);
    if (job.ok() && job->comparability.context_json.empty()) g.summary = "no context reported";
  }
  if (groups.size() <= 1 || q.keys == "mix") {
    if (groups.size() > 1) {
      out->warning = "these points come from " + std::to_string(groups.size()) +
                     " environments (comparability keys) and were compared as one (keys=mix)";
    }
    return ParetoFrontier(points, out->x_maximized, out->y_maximized);
  }
  out->warning = "these points come from " + std::to_string(groups.size()) +
                 " environments (comparability keys): one front per environment";
  std::vector<bool> on(points.size(), false);
  for (const auto& [key, members] : groups) {
    std::vector<ParetoInput> part;
    part.reserve(members.size());
    for (size_t i : members) part.push_back(points[i]);
    const std::vector<bool> part_on = ParetoFrontier(part, out->x_maximized, out->y_maximized);
    for (size_t k = 0; k < members.size(); ++k) on[members[k]] = part_on[k];
  }
  return on;
}

StatusOr<ParetoResult> RunJoinedPareto(storage::JobStore& store, const ParetoQuery& q) {
  RETURN_IF_ERROR(CheckSize(q.x_metric.size(), kMaxNameBytes, "x"));
  RETURN_IF_ERROR(CheckSize(q.y_metric.size(), kMaxNameBytes, "y"));
  ASSIGN_OR_RETURN(JoinResult join, RunJoinQuery(store, {q.experiment, q.join, q.on, q.filter,
                                                         /*succeeded_only=*/true,
                                                         q.keys.empty() ? "group" : q.keys}));
  ASSIGN_OR_RETURN(std::string x, ResolveJoinedMetric(join, q.x_metric, "x"));
  ASSIGN_OR_RETURN(std::string y, ResolveJoinedMetric(join, q.y_metric, "y"));
  // A point per pair that has both metrics; its id is the pair's place in the join's order,
  // which keeps ties in (A's job id, B's job id) order.
  std::vector<ParetoInput> points;
  std::vector<std::string> keys;
  std::vector<int64_t> examples;
  bool x_higher = false, y_higher = false;
  ParetoResult out;
  for (size_t i = 0; i < join.rows.size(); ++i) {
    const Metric *mx = nullptr, *my = nullptr;
    for (const auto& m : join.rows[i].metrics) {
      if (m.name == x) mx = &m;
      if (m.name == y) my = &m;
    }
    if (!mx || !my) continue;
    if (join.rows[i].fallback && !q.include_fallbacks) {
      ++out.excluded_fallbacks;
      continue;
    }
    x_higher = mx->higher_is_better;
    y_higher = my->higher_is_better;
    points.push_back({static_cast<int64_t>(i), mx->value, my->value});
    keys.push_back(join.rows[i].environment_key_a + "+" + join.rows[i].environment_key_b);
    examples.push_back(join.rows[i].job_id_a);
  }
  out.x_maximized = Maximize(q.x_direction, x_higher);
  out.y_maximized = Maximize(q.y_direction, y_higher);
  out.total_points = static_cast<int64_t>(points.size());
  ASSIGN_OR_RETURN(std::vector<bool> on, GroupedFrontier(store, q, points, keys, examples, &out));
  for (size_t k : KeptPoints(points, on, q.max_points)) {
    const JoinedRow& row = join.rows[static_cast<size_t>(points[k].id)];
    out.points.push_back({row.job_id_a, points[k].x, points[k].y, on[k], row.on_json, row.job_id_b,
                          keys[k]});
  }
  out.unmatched_a = std::move(join.unmatched_a);
  out.unmatched_b = std::move(join.unmatched_b);
  out.metric_names = std::move(join.metric_names);
  return out;
}

}  // namespace

StatusOr<ParetoResult> RunParetoQuery(storage::JobStore& store, const ParetoQuery& q) {
  if (q.experiment.empty()) return Status::InvalidArgument("experiment is required");
  if (q.x_metric.empty() || q.y_metric.empty()) {
    return Status::InvalidArgument("x and y metrics are required");
  }
  if (!q.join.empty() || !q.on.empty()) return RunJoinedPareto(store, q);
  ASSIGN_OR_RETURN(auto experiment, store.GetExperiment(q.experiment, 0));
  bool x_higher = false, y_higher = false, x_seen = false, y_seen = false;
  ASSIGN_OR_RETURN(auto pairs, store.MetricPairs(experiment.id, q.x_metric, q.y_metric, q.filter,
                                                 &x_higher, &y_higher, &x_seen, &y_seen));
  if (!x_seen || !y_seen) {
    const std::string& missing = !x_seen ? q.x_metric : q.y_metric;
    return Status::InvalidArgument("metric '" + missing + "' is not a metric of any succeeded job "
                                   "of experiment '" + q.experiment + "'");
  }
  RETURN_IF_ERROR(ValidateKeysPolicy(q.keys));
  ParetoResult out;
  out.x_maximized = Maximize(q.x_direction, x_higher);
  out.y_maximized = Maximize(q.y_direction, y_higher);
  std::vector<ParetoInput> points;
  std::vector<std::string> keys;
  std::vector<int64_t> examples;
  points.reserve(pairs.size());
  keys.reserve(pairs.size());
  for (auto& p : pairs) {
    if (p.fallback && !q.include_fallbacks) {
      ++out.excluded_fallbacks;
      continue;
    }
    points.push_back({p.job_id, p.x, p.y});
    keys.push_back(std::move(p.environment_key));
    examples.push_back(p.job_id);
  }
  out.total_points = static_cast<int64_t>(points.size());
  ASSIGN_OR_RETURN(std::vector<bool> on, GroupedFrontier(store, q, points, keys, examples, &out));
  const std::vector<size_t> keep = KeptPoints(points, on, q.max_points);
  std::vector<int64_t> ids;
  ids.reserve(keep.size());
  for (size_t i : keep) ids.push_back(points[i].id);
  ASSIGN_OR_RETURN(auto params, store.ParamsOf(ids));
  for (size_t i : keep) {
    out.points.push_back({points[i].id, points[i].x, points[i].y, on[i], params[points[i].id], 0,
                          keys[i]});
  }
  return out;
}

}  // namespace qlab::server
