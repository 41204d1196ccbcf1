#include "server/pareto.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <random>

namespace qlab::server {
namespace {

TEST(ParetoTest, MinimizeBoth) {
  // bits per weight vs mse: (4.125, 0.010) and (4.5, 0.008) are on the front, (4.5, 0.012) not.
  std::vector<ParetoInput> p = {{1, 4.125, 0.010}, {2, 4.5, 0.008}, {3, 4.5, 0.012},
                                {4, 8.125, 0.0001}, {5, 4.25, 0.011}};
  auto on = ParetoFrontier(p, false, false);
  EXPECT_EQ(on, (std::vector<bool>{true, true, false, true, false}));
}

TEST(ParetoTest, MaximizeY) {
  std::vector<ParetoInput> p = {{1, 4, 20}, {2, 4, 25}, {3, 8, 40}, {4, 3, 10}, {5, 8, 30}};
  auto on = ParetoFrontier(p, false, true);
  EXPECT_EQ(on, (std::vector<bool>{false, true, true, true, false}));
}

TEST(ParetoTest, DuplicatesOfAFrontierPointStay) {
  std::vector<ParetoInput> p = {{1, 1, 1}, {2, 1, 1}, {3, 2, 2}};
  EXPECT_EQ(ParetoFrontier(p, false, false), (std::vector<bool>{true, true, false}));
}

TEST(ParetoTest, AgreesWithQuadraticDefinitionOnRandomPoints) {
  std::mt19937 rng(7);
  std::uniform_int_distribution<int> d(0, 20);
  std::vector<ParetoInput> p(300);
  for (size_t i = 0; i < p.size(); ++i) p[i] = {int64_t(i), double(d(rng)), double(d(rng))};
  auto on = ParetoFrontier(p, false, true);
  for (size_t i = 0; i < p.size(); ++i) {
    bool dominated = false;
    for (size_t j = 0; j < p.size(); ++j) {
      bool no_worse = p[j].x <= p[i].x && p[j].y >= p[i].y;
      bool better = p[j].x < p[i].x || p[j].y > p[i].y;
      if (no_worse && better) dominated = true;
    }
    EXPECT_EQ(on[i], !dominated) << i;
  }
}


// Large inputs take the bucket pre-pass; on a grid with many ties and on a smooth curve with
// noise (a sweep's shape) it must agree with the plain definition, checked against the
// frontier computed as a staircase: a point is on it when no point has x <= and y <= with one
// strict (both minimized here, maximized through the flags).
std::vector<bool> StaircaseReference(const std::vector<ParetoInput>& p, bool max_x, bool max_y) {
  std::vector<bool> on(p.size());
  // Best y among points with x strictly smaller, then among equal x: a sorted sweep by hand.
  std::vector<size_t> order(p.size());
  for (size_t i = 0; i < p.size(); ++i) order[i] = i;
  const double sx = max_x ? -1 : 1, sy = max_y ? -1 : 1;
  std::sort(order.begin(), order.end(), [&](size_t a, size_t b) { return sx * p[a].x < sx * p[b].x; });
  double best_before = std::numeric_limits<double>::infinity();
  for (size_t g = 0; g < order.size();) {
    size_t h = g;
    double group_best = std::numeric_limits<double>::infinity();
    while (h < order.size() && p[order[h]].x == p[order[g]].x) group_best = std::min(group_best, sy * p[order[h++]].y);
    for (size_t k = g; k < h; ++k) {
      const double y = sy * p[order[k]].y;
      on[order[k]] = y < best_before && y == group_best;
    }
    best_before = std::min(best_before, group_best);
    g = h;
  }
  return on;
}

TEST(ParetoTest, LargeInputsAgreeWithTheStaircase) {
  std::mt19937 rng(11);
  for (int shape = 0; shape < 2; ++shape) {
    for (bool max_x : {false, true}) {
      for (bool max_y : {false, true}) {
        std::vector<ParetoInput> p(60000);
        std::uniform_int_distribution<int> grid(0, 300);
        std::uniform_real_distribution<double> u(0, 1);
        for (size_t i = 0; i < p.size(); ++i) {
          if (shape == 0) {
            p[i] = {int64_t(i), double(grid(rng)), double(grid(rng))};
          } else {
            const double bits = 2 + 6 * u(rng);
            p[i] = {int64_t(i), bits, std::pow(4.0, -bits) * (1 + u(rng))};
          }
        }
        EXPECT_EQ(ParetoFrontier(p, max_x, max_y), StaircaseReference(p, max_x, max_y))
            << "shape " << shape << " max_x " << max_x << " max_y " << max_y;
      }
    }
  }
}

}  // namespace
}  // namespace qlab::server
