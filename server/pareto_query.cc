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
  std::vector<ParetoInput> points;
  std::vector<std::string> params;
  bool x_seen = false, y_seen = false, x_higher = false, y_higher = false;
  int64_t after = 0;
  for (;;) {
    ASSIGN_OR_RETURN(auto rows, store.QueryResults(experiment.id, after, 10000, q.filter));
    if (rows.empty()) break;
    after = rows.back().job_id;
    for (const auto& r : rows) {
      if (r.state != storage::JobState::kSucceeded) continue;
      const Metric *mx = nullptr, *my = nullptr;
      for (const auto& m : r.metrics) {
        if (m.name == q.x_metric) mx = &m;
        if (m.name == q.y_metric) my = &m;
      }
      if (mx) x_seen = true, x_higher = mx->higher_is_better;
      if (my) y_seen = true, y_higher = my->higher_is_better;
      if (!mx || !my) continue;
      points.push_back({r.job_id, mx->value, my->value});
      params.push_back(r.params_json);
    }
  }
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
  std::vector<bool> on = ParetoFrontier(points, out.x_maximized, out.y_maximized);
  std::vector<size_t> order(points.size());
  std::iota(order.begin(), order.end(), 0);
  std::sort(order.begin(), order.end(), [&](size_t a, size_t b) {
    return points[a].x != points[b].x ? points[a].x < points[b].x : points[a].id < points[b].id;
  });
  for (size_t i : order) {
    out.points.push_back({points[i].id, points[i].x, points[i].y, on[i], std::move(params[i])});
  }
  return out;
}

}  // namespace qlab::server
