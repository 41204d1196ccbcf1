#include "server/pareto.h"

#include <gtest/gtest.h>

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

}  // namespace
}  // namespace qlab::server
