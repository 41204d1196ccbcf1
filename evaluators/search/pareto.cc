// Non-dominated filtering and exact hypervolume. Everything is turned into minimization first
// (maximized objectives negated, the reference with them), so the algorithms below see one
// direction only.
#include "evaluators/search/pareto.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <map>

namespace qlab::search {
namespace {

constexpr size_t kMaxHypervolumeObjectives = 16;
constexpr size_t kMaxHypervolumePoints = 1000000;

using Point = std::vector<double>;

// Writes `p` as a minimization vector into `out`; false when it cannot take part.
bool ToMinimization(const std::vector<double>& p, const std::vector<Direction>& directions,
                    Point* out) {
  if (p.size() != directions.size()) return false;
  out->resize(p.size());
  for (size_t d = 0; d < p.size(); ++d) {
    if (!std::isfinite(p[d])) return false;
    (*out)[d] = directions[d] == Direction::kMaximize ? -p[d] : p[d];
  }
  return true;
}

// a <= b in each of the first `dims` coordinates.
bool WeaklyDominates(const Point& a, const Point& b, size_t dims) {
  for (size_t d = 0; d < dims; ++d) {
    if (a[d] > b[d]) return false;
  }
  return true;
}

bool LexLess(const Point& a, const Point& b, size_t dims) {
  for (size_t d = 0; d < dims; ++d) {
    if (a[d] != b[d]) return a[d] < b[d];
  }
  return false;
}

// Drops every point that another point weakly dominates in the first `dims` coordinates (copies
// included: one survives). A dominating point sorts before what it dominates, and a point
// dominated at all is dominated by a survivor, so each point is checked against survivors only.
void KeepNondominated(std::vector<Point>* points, size_t dims) {
  std::sort(points->begin(), points->end(),
            [dims](const Point& a, const Point& b) { return LexLess(a, b, dims); });
  size_t kept = 0;
  for (size_t i = 0; i < points->size(); ++i) {
    bool dominated = false;
    for (size_t k = 0; k < kept && !dominated; ++k) {
      dominated = WeaklyDominates((*points)[k], (*points)[i], dims);
    }
    if (!dominated) {
      if (kept != i) (*points)[kept] = std::move((*points)[i]);
      ++kept;
    }
  }
  points->resize(kept);
}

// Area dominated by `points` (coordinates 0 and 1) up to `reference`. Sorted by the first
// coordinate, each point that lowers the best second coordinate so far adds one strip.
double Hypervolume2D(std::vector<Point>& points, const Point& reference) {
  std::sort(points.begin(), points.end(), [](const Point& a, const Point& b) {
    return a[0] != b[0] ? a[0] < b[0] : a[1] < b[1];
  });
  double volume = 0;
  double best_y = reference[1];
  for (const Point& p : points) {
    if (p[1] < best_y) {
      volume += (reference[0] - p[0]) * (best_y - p[1]);
      best_y = p[1];
    }
  }
  return volume;
}

// Volume dominated by `points` (coordinates 0 to 2) up to `reference`, by a sweep in the third
// coordinate (Beume et al. 2009): the 2-D front of the points swept so far is kept as a
// staircase (first coordinate ascending, second descending) with its area updated as each point
// joins, so the whole costs O(n log n).
double Hypervolume3D(std::vector<Point>& points, const Point& reference) {
  std::sort(points.begin(), points.end(),
            [](const Point& a, const Point& b) { return a[2] < b[2]; });
  std::map<double, double> stairs;  // x -> y
  double area = 0, volume = 0;
  for (size_t i = 0; i < points.size(); ++i) {
    const double x = points[i][0], y = points[i][1];
    auto it = stairs.lower_bound(x);
    const bool covered = (it != stairs.end() && it->first == x && it->second <= y) ||
                         (it != stairs.begin() && std::prev(it)->second <= y);
    if (!covered) {
      // Walk right from x over the steps this point dominates: each strip between steps gains
      // the height between the old level and y.
      double level = it == stairs.begin() ? reference[1] : std::prev(it)->second;
      double from = x;
      while (it != stairs.end() && it->second >= y) {
        area += (it->first - from) * (level - y);
        from = it->first;
        level = it->second;
        it = stairs.erase(it);
      }
      area += ((it == stairs.end() ? reference[0] : it->first) - from) * (level - y);
      stairs.emplace(x, y);
    }
    const double next = i + 1 < points.size() ? points[i + 1][2] : reference[2];
    volume += area * (next - points[i][2]);
  }
  return volume;
}

// WFG over the first `dims` coordinates. REQUIRES: every point is strictly better than the
// reference in those coordinates. With the points ordered worst-first in the last coordinate,
// the part of point k's box not covered by later points is its depth in that coordinate times
// the (dims-1)-volume of its box minus that of the later boxes clipped to it (the limit set),
// so each level drops one dimension.
double HypervolumeWfg(std::vector<Point>& points, const Point& reference, size_t dims) {
  if (points.empty()) return 0;
  if (dims == 1) {
    double best = points[0][0];
    for (const Point& p : points) best = std::min(best, p[0]);
    return reference[0] - best;
  }
  if (dims == 2) return Hypervolume2D(points, reference);
  if (dims == 3) return Hypervolume3D(points, reference);
  const size_t last = dims - 1;
  std::sort(points.begin(), points.end(),
            [last](const Point& a, const Point& b) { return a[last] > b[last]; });
  double volume = 0;
  std::vector<Point> limit;
  for (size_t k = 0; k < points.size(); ++k) {
    const Point& p = points[k];
    double box = 1;
    for (size_t d = 0; d < last; ++d) box *= reference[d] - p[d];
    limit.clear();
    for (size_t j = k + 1; j < points.size(); ++j) {
      Point q(last);
      for (size_t d = 0; d < last; ++d) q[d] = std::max(p[d], points[j][d]);
      limit.push_back(std::move(q));
    }
    // The sweeps ignore dominated points by themselves; higher levels shrink the set first.
    if (last > 3) KeepNondominated(&limit, last);
    volume += (reference[last] - p[last]) * (box - HypervolumeWfg(limit, reference, last));
  }
  return volume;
}

}  // namespace

std::vector<size_t> NondominatedIndices(const std::vector<std::vector<double>>& points,
                                        const std::vector<Direction>& directions) {
  const size_t dims = directions.size();
  std::vector<Point> converted(points.size());
  std::vector<size_t> order;
  for (size_t i = 0; i < points.size(); ++i) {
    if (ToMinimization(points[i], directions, &converted[i])) order.push_back(i);
  }
  if (dims == 0) return order;  // nothing tells the points apart
  std::sort(order.begin(), order.end(), [&](size_t a, size_t b) {
    if (LexLess(converted[a], converted[b], dims)) return true;
    if (LexLess(converted[b], converted[a], dims)) return false;
    return a < b;
  });
  // Walk runs of equal points in lexicographic order: every point before a run differs from it
  // and is no worse in the first coordinate, so the run is dominated exactly when one of the
  // earlier front points is no worse in every coordinate.
  std::vector<size_t> result;
  std::vector<size_t> front;  // one representative per run kept
  double best_second = std::numeric_limits<double>::infinity();
  for (size_t start = 0; start < order.size();) {
    size_t end = start + 1;
    const Point& p = converted[order[start]];
    while (end < order.size() && converted[order[end]] == p) ++end;
    bool dominated;
    if (dims == 1) {
      dominated = start != 0;
    } else if (dims == 2) {
      dominated = best_second <= p[1];
      best_second = std::min(best_second, p[1]);
    } else {
      dominated = false;
      for (size_t k = 0; k < front.size() && !dominated; ++k) {
        dominated = WeaklyDominates(converted[front[k]], p, dims);
      }
      if (!dominated) front.push_back(order[start]);
    }
    if (!dominated) result.insert(result.end(), order.begin() + start, order.begin() + end);
    start = end;
  }
  std::sort(result.begin(), result.end());
  return result;
}

double Hypervolume(const std::vector<std::vector<double>>& points,
                   const std::vector<double>& reference, const std::vector<Direction>& directions) {
  const double nan = std::numeric_limits<double>::quiet_NaN();
  const size_t dims = reference.size();
  if (dims == 0 || dims > kMaxHypervolumeObjectives || directions.size() != dims ||
      points.size() > kMaxHypervolumePoints) {
    return nan;
  }
  Point ref;
  if (!ToMinimization(reference, directions, &ref)) return nan;
  std::vector<Point> inside;
  Point p;
  for (const std::vector<double>& raw : points) {
    if (!ToMinimization(raw, directions, &p)) continue;
    bool better = true;
    for (size_t d = 0; d < dims && better; ++d) better = p[d] < ref[d];
    if (better) inside.push_back(p);
  }
  if (dims > 3) KeepNondominated(&inside, dims);
  return HypervolumeWfg(inside, ref, dims);
}

}  // namespace qlab::search
