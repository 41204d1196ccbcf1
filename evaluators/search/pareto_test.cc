// Pareto fronts and hypervolume: hand-computed cases, directions, points outside the reference,
// and random sets checked against brute force (all pairs for fronts, a coordinate grid for
// volumes, which is exact: the union of boxes is constant on every grid cell).
#include "evaluators/search/pareto.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <vector>

namespace qlab::search {
namespace {

using Points = std::vector<std::vector<double>>;
const std::vector<Direction> kMinMin = {Direction::kMinimize, Direction::kMinimize};
const std::vector<Direction> kMin3(3, Direction::kMinimize);

TEST(NondominatedIndices, TwoObjectives) {
  Points points = {{1, 3}, {2, 2}, {3, 1}, {2, 3}, {4, 4}, {1, 3}, {0.5, 5}};
  // (2,3) and (4,4) are dominated; the copy of (1,3) stays with it.
  EXPECT_EQ(NondominatedIndices(points, kMinMin), (std::vector<size_t>{0, 1, 2, 5, 6}));
}

TEST(NondominatedIndices, EqualFirstObjective) {
  Points points = {{1, 2}, {1, 1}, {1, 1}, {0, 3}};
  EXPECT_EQ(NondominatedIndices(points, kMinMin), (std::vector<size_t>{1, 2, 3}));
}

TEST(NondominatedIndices, DirectionsAndBadPoints) {
  const std::vector<Direction> max_min = {Direction::kMaximize, Direction::kMinimize};
  Points points = {{1, 1}, {2, 1}, {2, 0.5}, {3, 2}, {NAN, 0}, {1}, {INFINITY, 0}};
  EXPECT_EQ(NondominatedIndices(points, max_min), (std::vector<size_t>{2, 3}));
  // One objective: only the one-value point counts.
  EXPECT_EQ(NondominatedIndices(points, {Direction::kMaximize}), std::vector<size_t>{5});
  EXPECT_EQ(NondominatedIndices({{3}, {1}, {1}, {2}}, {Direction::kMinimize}),
            (std::vector<size_t>{1, 2}));
  EXPECT_EQ(NondominatedIndices({{3}, {1}, {3}}, {Direction::kMaximize}),
            (std::vector<size_t>{0, 2}));
}

// Brute force over all pairs, with many ties (small integer coordinates).
TEST(NondominatedIndices, MatchesAllPairsOnRandomSets) {
  std::mt19937_64 rng(7);
  for (int dims = 1; dims <= 4; ++dims) {
    for (int round = 0; round < 20; ++round) {
      std::vector<Direction> directions(dims);
      for (auto& d : directions) d = rng() % 2 ? Direction::kMaximize : Direction::kMinimize;
      Points points(1 + rng() % 60, std::vector<double>(dims));
      for (auto& p : points) {
        for (double& v : p) v = static_cast<double>(rng() % 6);
      }
      std::vector<size_t> expected;
      for (size_t i = 0; i < points.size(); ++i) {
        bool dominated = false;
        for (size_t j = 0; j < points.size() && !dominated; ++j) {
          bool no_worse = true, better = false;
          for (int d = 0; d < dims; ++d) {
            const double sign = directions[d] == Direction::kMaximize ? -1 : 1;
            const double a = sign * points[j][d], b = sign * points[i][d];
            if (a > b) no_worse = false;
            if (a < b) better = true;
          }
          dominated = no_worse && better;
        }
        if (!dominated) expected.push_back(i);
      }
      EXPECT_EQ(NondominatedIndices(points, directions), expected) << dims << "-D round " << round;
    }
  }
}

TEST(Hypervolume, TwoDimensionsByHand) {
  Points staircase = {{1, 3}, {2, 2}, {3, 1}};
  EXPECT_DOUBLE_EQ(Hypervolume(staircase, {4, 4}, kMinMin), 3 + 2 + 1);
  // Dominated points and copies add nothing; so do points on or beyond the reference.
  Points extra = staircase;
  extra.insert(extra.end(), {{2, 3}, {1, 3}, {4, 0}, {5, -1}, {0, 4}, {-1, 9}});
  EXPECT_DOUBLE_EQ(Hypervolume(extra, {4, 4}, kMinMin), 6);
  EXPECT_DOUBLE_EQ(Hypervolume({{5, 5}}, {4, 4}, kMinMin), 0);
  EXPECT_DOUBLE_EQ(Hypervolume({}, {4, 4}, kMinMin), 0);
  EXPECT_DOUBLE_EQ(Hypervolume({{0.5, 0.25}}, {1, 1}, kMinMin), 0.5 * 0.75);
}

TEST(Hypervolume, Directions) {
  const std::vector<Direction> max_max = {Direction::kMaximize, Direction::kMaximize};
  EXPECT_DOUBLE_EQ(Hypervolume({{3, 1}, {2, 2}, {1, 3}}, {0, 0}, max_max), 6);
  // Minimize the first, maximize the second: boxes [1,3]x[0,3] and [2,3]x[0,4].
  const std::vector<Direction> min_max = {Direction::kMinimize, Direction::kMaximize};
  EXPECT_DOUBLE_EQ(Hypervolume({{1, 3}, {2, 4}, {3, 5}, {0, -1}}, {3, 0}, min_max), 2 * 3 + 1);
  EXPECT_DOUBLE_EQ(Hypervolume({{2}, {1}, {5}}, {4}, {Direction::kMinimize}), 3);
  EXPECT_DOUBLE_EQ(Hypervolume({{2}, {1}, {5}}, {4}, {Direction::kMaximize}), 1);
}

TEST(Hypervolume, ThreeDimensionsByHand) {
  EXPECT_DOUBLE_EQ(Hypervolume({{0, 0, 0}}, {1, 1, 1}, kMin3), 1);
  // 0.5 + 0.25 - their overlap [0.5,1]^2 x [0.5,1].
  EXPECT_DOUBLE_EQ(Hypervolume({{0, 0, 0.5}, {0.5, 0.5, 0}}, {1, 1, 1}, kMin3), 0.625);
  // Three boxes of 6, pairwise overlaps of 2, a triple overlap of 1: 18 - 6 + 1.
  Points cyclic = {{1, 2, 3}, {2, 3, 1}, {3, 1, 2}};
  EXPECT_DOUBLE_EQ(Hypervolume(cyclic, {4, 4, 4}, kMin3), 13);
  cyclic.push_back({3, 3, 3});    // dominated
  cyclic.push_back({0, 0, 4});    // on the reference in one objective
  cyclic.push_back({-1, -1, 9});  // beyond it
  EXPECT_DOUBLE_EQ(Hypervolume(cyclic, {4, 4, 4}, kMin3), 13);
  const std::vector<Direction> mixed = {Direction::kMaximize, Direction::kMinimize,
                                        Direction::kMaximize};
  EXPECT_DOUBLE_EQ(Hypervolume({{-1, 2, -3}, {-2, 3, -1}, {-3, 1, -2}}, {-4, 4, -4}, mixed), 13);
}

TEST(Hypervolume, RefusesBadReference) {
  EXPECT_TRUE(std::isnan(Hypervolume({{1, 1}}, {}, {})));
  EXPECT_TRUE(std::isnan(Hypervolume({{1, 1}}, {2, NAN}, kMinMin)));
  EXPECT_TRUE(std::isnan(Hypervolume({{1, 1}}, {2, INFINITY}, kMinMin)));
  EXPECT_TRUE(std::isnan(Hypervolume({{1, 1}}, {2, 2}, {Direction::kMinimize})));
  EXPECT_TRUE(std::isnan(Hypervolume({}, std::vector<double>(17, 1),
                                     std::vector<Direction>(17, Direction::kMinimize))));
}

// Exact volume by brute force: grid lines at every coordinate; a cell lies in the union exactly
// when some point is no worse than its lower corner. Minimization only.
double GridHypervolume(const Points& points, const std::vector<double>& reference) {
  const size_t dims = reference.size();
  std::vector<std::vector<double>> lines(dims);
  for (size_t d = 0; d < dims; ++d) {
    for (const auto& p : points) {
      if (p[d] < reference[d]) lines[d].push_back(p[d]);
    }
    lines[d].push_back(reference[d]);
    std::sort(lines[d].begin(), lines[d].end());
    lines[d].erase(std::unique(lines[d].begin(), lines[d].end()), lines[d].end());
  }
  double volume = 0;
  std::vector<size_t> cell(dims, 0);
  while (true) {
    bool inside = true;
    for (size_t d = 0; d < dims && inside; ++d) inside = cell[d] + 1 < lines[d].size();
    if (inside) {
      bool covered = false;
      for (const auto& p : points) {
        bool below = true;
        for (size_t d = 0; d < dims && below; ++d) below = p[d] <= lines[d][cell[d]];
        if (below) {
          covered = true;
          break;
        }
      }
      if (covered) {
        double box = 1;
        for (size_t d = 0; d < dims; ++d) box *= lines[d][cell[d] + 1] - lines[d][cell[d]];
        volume += box;
      }
    }
    size_t d = 0;
    while (d < dims && ++cell[d] >= lines[d].size()) cell[d++] = 0;
    if (d == dims) return volume;
  }
}

TEST(Hypervolume, MatchesGridOnRandomSets) {
  std::mt19937_64 rng(11);
  std::uniform_real_distribution<double> unit(0, 1);
  for (size_t dims = 2; dims <= 5; ++dims) {
    const int count = dims <= 3 ? 25 : (dims == 4 ? 12 : 7);
    for (int round = 0; round < 10; ++round) {
      Points points(count, std::vector<double>(dims));
      for (auto& p : points) {
        // Points near a simplex so that many are mutually non-dominated; some beyond 1.
        double sum = 0;
        for (double& v : p) {
          v = unit(rng);
          sum += v;
        }
        for (double& v : p) v = v / sum * (0.6 + 0.6 * unit(rng));
        if (round % 2 == 1) p[rng() % dims] = std::floor(p[0] * 4) / 4;  // ties
      }
      const std::vector<double> reference(dims, 1.0);
      const double expected = GridHypervolume(points, reference);
      EXPECT_NEAR(Hypervolume(points, reference, std::vector<Direction>(dims)), expected,
                  1e-12 * std::max(1.0, expected))
          << dims << "-D round " << round;
    }
  }
}

// Small integer coordinates: many equal coordinates, copies and points on the reference.
TEST(Hypervolume, MatchesGridWithTies) {
  std::mt19937_64 rng(5);
  for (size_t dims = 2; dims <= 5; ++dims) {
    for (int round = 0; round < 20; ++round) {
      Points points(1 + rng() % 15, std::vector<double>(dims));
      for (auto& p : points) {
        for (double& v : p) v = static_cast<double>(rng() % 5);
      }
      const std::vector<double> reference(dims, 4.0);
      EXPECT_DOUBLE_EQ(Hypervolume(points, reference, std::vector<Direction>(dims)),
                       GridHypervolume(points, reference))
          << dims << "-D round " << round;
    }
  }
}

TEST(Hypervolume, LargeFrontsStayFast) {
  // 20,000 points on the sphere octant: every point is on the front. Checked against the
  // analytic octant complement loosely (a finite sample under-covers it).
  std::mt19937_64 rng(3);
  std::normal_distribution<double> normal(0, 1);
  Points points(20000, std::vector<double>(3));
  for (auto& p : points) {
    double norm = 0;
    for (double& v : p) {
      v = std::fabs(normal(rng));
      norm += v * v;
    }
    for (double& v : p) v /= std::sqrt(norm);
  }
  const double volume = Hypervolume(points, {1, 1, 1}, kMin3);
  const double exact_front = 1 - M_PI / 6;  // unit cube minus the ball's octant
  EXPECT_LT(volume, exact_front);
  EXPECT_GT(volume, exact_front - 0.01);
}

}  // namespace
}  // namespace qlab::search
