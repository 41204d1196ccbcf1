// Non-dominated fronts over two metrics: the points no other point beats on both axes.
#pragma once

#include <cstdint>
#include <vector>

namespace qlab::server {

struct ParetoInput {
  int64_t id = 0;
  double x = 0, y = 0;
};

// Returns on_frontier[i] for each point. A point is dominated when another is at least as
// good on both axes and strictly better on one; exact duplicates of a frontier point are all
// on the frontier. O(n log n).
std::vector<bool> ParetoFrontier(const std::vector<ParetoInput>& points, bool maximize_x,
                                 bool maximize_y);

}  // namespace qlab::server
