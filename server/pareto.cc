#include "server/pareto.h"

#include <algorithm>
#include <limits>
#include <numeric>

namespace qlab::server {

std::vector<bool> ParetoFrontier(const std::vector<ParetoInput>& points, bool maximize_x,
                                 bool maximize_y) {
  // Flip signs so both axes are minimized, sort by x then y, sweep keeping the best y so far.
  const double sx = maximize_x ? -1 : 1, sy = maximize_y ? -1 : 1;
  std::vector<size_t> order(points.size());
  std::iota(order.begin(), order.end(), 0);
  std::sort(order.begin(), order.end(), [&](size_t a, size_t b) {
    double xa = sx * points[a].x, xb = sx * points[b].x;
    if (xa != xb) return xa < xb;
    return sy * points[a].y < sy * points[b].y;
  });
  std::vector<bool> on(points.size(), false);
  double best_y = std::numeric_limits<double>::infinity();
  double last_x = std::numeric_limits<double>::quiet_NaN(), last_y = last_x;
  for (size_t i : order) {
    double x = sx * points[i].x, y = sy * points[i].y;
    if (y < best_y) {
      on[i] = true;
      best_y = y;
      last_x = x;
      last_y = y;
    } else if (x == last_x && y == last_y) {
      on[i] = true;  // a duplicate of the frontier point just taken
    }
  }
  return on;
}

}  // namespace qlab::server
