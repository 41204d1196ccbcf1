#include "server/pareto.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>

namespace qlab::server {

namespace {

// Indices of the points that may be on the frontier (both axes minimized after the signs):
// the x range is cut into buckets, and a point is left out when an earlier bucket holds a
// point strictly better on y, which is then strictly better on x as well, so the point is
// dominated. One pass for the bucket minima and one for the test, O(n); a large sweep's
// frontier and its near misses are a small share of the points, and only they are sorted.
std::vector<size_t> Candidates(const std::vector<ParetoInput>& points, double sx, double sy) {
  const size_t n = points.size();
  auto all = [n] {
    std::vector<size_t> every(n);
    std::iota(every.begin(), every.end(), 0);
    return every;
  };
  if (n < 4096) return all();
  double lo = std::numeric_limits<double>::infinity(), hi = -lo;
  for (const auto& p : points) {
    lo = std::min(lo, sx * p.x);
    hi = std::max(hi, sx * p.x);
  }
  if (!std::isfinite(lo) || !std::isfinite(hi) || !(hi > lo)) return all();
  const size_t buckets = std::min<size_t>(n / 4, 1 << 16);
  const double scale = static_cast<double>(buckets) / (hi - lo);
  auto bucket_of = [&](double x) {
    // Monotone in x, so a lower bucket means a strictly smaller x.
    const double b = (x - lo) * scale;
    return b >= static_cast<double>(buckets) ? buckets - 1 : static_cast<size_t>(b);
  };
  std::vector<double> best(buckets, std::numeric_limits<double>::infinity());
  for (const auto& p : points) {
    const size_t b = bucket_of(sx * p.x);
    best[b] = std::min(best[b], sy * p.y);
  }
  // before[b]: the best y of every bucket below b.
  std::vector<double> before(buckets);
  double running = std::numeric_limits<double>::infinity();
  for (size_t b = 0; b < buckets; ++b) {
    before[b] = running;
    running = std::min(running, best[b]);
  }
  std::vector<size_t> keep;
  for (size_t i = 0; i < n; ++i) {
    if (!(sy * points[i].y > before[bucket_of(sx * points[i].x)])) keep.push_back(i);
  }
  return keep;
}

}  // namespace

std::vector<bool> ParetoFrontier(const std::vector<ParetoInput>& points, bool maximize_x,
                                 bool maximize_y) {
  // Flip signs so both axes are minimized, sort by x then y, sweep keeping the best y so far.
  // Leaving out points known to be dominated changes no sweep decision: each has a kept point
  // before it in this order that is better on y.
  const double sx = maximize_x ? -1 : 1, sy = maximize_y ? -1 : 1;
  std::vector<size_t> order = Candidates(points, sx, sy);
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
