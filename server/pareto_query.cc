#include "server/pareto_query.h"

#include <algorithm>
#include <numeric>

#include "server/pareto.h"

namespace qlab::server {

StatusOr<ParetoResult> RunParetoQuery(storage::JobStore& store, const ParetoQuery& q) {
  if (q.experiment.empty()) return Status::InvalidArgument("experiment is required");
  if (q.x_metric.empty() || q.y_metric.empty()) {
    return Status::InvalidArgument("x and y metrics are required");
  }
  ASSIGN_OR_RETURN(auto experiment, store.GetExperiment(q.experiment, 0));
  bool x_higher = false, y_higher = false, x_seen = false, y_seen = false;
  ASSIGN_OR_RETURN(auto pairs, store.MetricPairs(experiment.id, q.x_metric, q.y_metric, q.filter,
                                                 &x_higher, &y_higher, &x_seen, &y_seen));
  if (!x_seen || !y_seen) {
    const std::string& missing = !x_seen ? q.x_metric : q.y_metric;
    return Status::InvalidArgument("metric '" + missing + "' is not a metric of any succeeded job "
                                   "of experiment '" + q.experiment + "'");
  }
  auto maximize = [](ParetoDirection d, bool own) {
    return d == ParetoDirection::kMaximize || (d == ParetoDirection::kAuto && own);
  };
  ParetoResult out;
  out.x_maximized = maximize(q.x_direction, x_higher);
  out.y_maximized = maximize(q.y_direction, y_higher);
  out.total_points = static_cast<int64_t>(pairs.size());
  std::vector<ParetoInput> points;
  points.reserve(pairs.size());
  for (const auto& p : pairs) points.push_back({p.job_id, p.x, p.y});
  std::vector<bool> on = ParetoFrontier(points, out.x_maximized, out.y_maximized);

  // Which points to return: all, or the frontier and an even sample of the rest.
  std::vector<size_t> keep;
  const int64_t total = out.total_points;
  if (q.max_points > 0 && total > q.max_points) {
    int64_t frontier = 0;
    for (bool f : on) frontier += f;
    const int64_t budget = std::max<int64_t>(0, q.max_points - frontier);
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
  std::vector<int64_t> ids;
  ids.reserve(keep.size());
  for (size_t i : keep) ids.push_back(points[i].id);
  ASSIGN_OR_RETURN(auto params, store.ParamsOf(ids));
  for (size_t i : keep) {
    out.points.push_back({points[i].id, points[i].x, points[i].y, on[i], params[points[i].id]});
  }
  return out;
}

}  // namespace qlab::server
