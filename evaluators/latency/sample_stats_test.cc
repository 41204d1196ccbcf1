// Sample statistics against values computed by hand (numpy conventions).
#include "evaluators/latency/sample_stats.h"

#include <gtest/gtest.h>

namespace qlab::latency {
namespace {

TEST(SampleStatsTest, SummaryOfKnownSamples) {
  // 1..10: median 5.5, p10 = 1 + 0.9 = 1.9, p90 = 9.1, mean 5.5, sample stddev sqrt(55/6).
  std::vector<double> s = {10, 1, 9, 2, 8, 3, 7, 4, 6, 5};
  SampleSummary m = Summarize(s);
  EXPECT_EQ(m.n, 10);
  EXPECT_DOUBLE_EQ(m.median, 5.5);
  EXPECT_NEAR(m.p10, 1.9, 1e-12);
  EXPECT_NEAR(m.p90, 9.1, 1e-12);
  EXPECT_DOUBLE_EQ(m.min, 1);
  EXPECT_DOUBLE_EQ(m.max, 10);
  EXPECT_DOUBLE_EQ(m.mean, 5.5);
  EXPECT_NEAR(m.stddev, 3.0276503540974917, 1e-12);
  EXPECT_NEAR(m.cv, 3.0276503540974917 / 5.5, 1e-12);
}

TEST(SampleStatsTest, OutliersMoveMeanNotMedian) {
  std::vector<double> s(99, 100.0);
  s.push_back(10000.0);  // one preempted sample
  SampleSummary m = Summarize(s);
  EXPECT_DOUBLE_EQ(m.median, 100.0);
  EXPECT_DOUBLE_EQ(m.p90, 100.0);
  EXPECT_DOUBLE_EQ(m.mean, 199.0);
  EXPECT_GT(m.cv, 0.05);  // the gate sees it; the median is unaffected
}

TEST(SampleStatsTest, EdgeCases) {
  EXPECT_EQ(Summarize({}).n, 0);
  SampleSummary one = Summarize({42});
  EXPECT_EQ(one.median, 42);
  EXPECT_EQ(one.p10, 42);
  EXPECT_EQ(one.stddev, 0);
  EXPECT_EQ(one.cv, 0);
}

TEST(SampleStatsTest, Spearman) {
  EXPECT_DOUBLE_EQ(SpearmanRho({1, 2, 3, 4}, {10, 20, 30, 40}), 1.0);
  EXPECT_DOUBLE_EQ(SpearmanRho({1, 2, 3, 4}, {4, 3, 2, 1}), -1.0);
  // Monotone but non-linear is still 1.
  EXPECT_DOUBLE_EQ(SpearmanRho({1, 2, 3, 4, 5}, {1, 8, 27, 64, 125}), 1.0);
  // scipy.stats.spearmanr([1,2,3,4,5], [2,1,4,3,5]) = 0.8
  EXPECT_NEAR(SpearmanRho({1, 2, 3, 4, 5}, {2, 1, 4, 3, 5}), 0.8, 1e-12);
  // Ties: scipy.stats.spearmanr([1,2,2,3], [1,2,3,4]) = 0.9486832980505138
  EXPECT_NEAR(SpearmanRho({1, 2, 2, 3}, {1, 2, 3, 4}), 0.9486832980505138, 1e-12);
  EXPECT_EQ(SpearmanRho({1, 1, 1}, {1, 2, 3}), 0.0);
  EXPECT_EQ(SpearmanRho({1}, {1}), 0.0);
}

TEST(SampleStatsTest, MedianAbsRelativeDiff) {
  // pairwise |a-b|/mean: 0, 2/101, 10/105 -> median 2/101.
  EXPECT_NEAR(MedianAbsRelativeDiff({100, 100, 100}, {100, 102, 110}), 2.0 / 101.0, 1e-12);
  EXPECT_EQ(MedianAbsRelativeDiff({}, {}), 0.0);
  EXPECT_EQ(MedianAbsRelativeDiff({0}, {0}), 0.0);
}

}  // namespace
}  // namespace qlab::latency
