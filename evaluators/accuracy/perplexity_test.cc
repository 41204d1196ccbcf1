// Window planning, NLL accumulation and the unigram baseline, with a scorer whose NLLs are
// known.
#include "evaluators/accuracy/perplexity.h"

#include <gtest/gtest.h>

#include <cmath>

namespace qlab::accuracy {
namespace {

TEST(PlanWindows, NonOverlappingWindowsSkipEachWindowsFirstToken) {
  auto plan = PlanWindows(/*num_tokens=*/12, /*context=*/4, /*stride=*/4);
  ASSERT_TRUE(plan.ok());
  ASSERT_EQ(plan->windows.size(), 3u);
  EXPECT_EQ(plan->windows[1].start, 4);
  EXPECT_EQ(plan->windows[1].first_scored, 1);
  EXPECT_EQ(plan->scored_positions, 9);  // 3 windows x 3 predicted positions
}

TEST(PlanWindows, TailWindowScoresOnlyNewPositions) {
  // Windows [0,4) [4,8), then [6,10) for the tail: positions 8 and 9 are new.
  auto plan = PlanWindows(10, 4, 4);
  ASSERT_TRUE(plan.ok());
  ASSERT_EQ(plan->windows.size(), 3u);
  EXPECT_EQ(plan->windows[2].start, 6);
  EXPECT_EQ(plan->windows[2].first_scored, 2);
  EXPECT_EQ(plan->scored_positions, 3 + 3 + 2);
}

TEST(PlanWindows, StrideBelowContextScoresEveryPositionOnce) {
  auto plan = PlanWindows(10, 4, 2);
  ASSERT_TRUE(plan.ok());
  // [0,4): 1,2,3  [2,6): 4,5  [4,8): 6,7  [6,10): 8,9
  ASSERT_EQ(plan->windows.size(), 4u);
  EXPECT_EQ(plan->windows[0].first_scored, 1);
  for (size_t i = 1; i < 4; ++i) EXPECT_EQ(plan->windows[i].first_scored, 2);
  EXPECT_EQ(plan->scored_positions, 9);  // every position but the first
}

TEST(PlanWindows, BadInputs) {
  auto short_text = PlanWindows(100, 256, 256);
  EXPECT_EQ(short_text.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(short_text.status().message().find("shorter than one window"), std::string::npos);
  EXPECT_FALSE(PlanWindows(100, 1, 1).ok());
  EXPECT_FALSE(PlanWindows(100, 8, 9).ok());
  EXPECT_FALSE(PlanWindows(100, 8, 0).ok());
  EXPECT_TRUE(PlanWindows(8, 8, 8).ok());
}

// NLL of predicting token t is t / 10: the perplexity is exp(mean over scored targets).
Status FakeScore(const std::vector<const int32_t*>& windows, int64_t context,
                 std::vector<std::vector<double>>* nll) {
  for (size_t w = 0; w < windows.size(); ++w) {
    for (int64_t j = 1; j < context; ++j) (*nll)[w].push_back(windows[w][j] / 10.0);
  }
  return Status::Ok();
}

TEST(ComputePerplexity, MatchesHandComputationForAnyBatch) {
  const std::vector<int32_t> tokens = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10};
  auto plan = PlanWindows(10, 4, 2);
  ASSERT_TRUE(plan.ok());
  // Scored positions 1..9 hold tokens 2..10: mean NLL = (2+...+10)/10/9 = 0.6.
  for (int batch : {1, 2, 3, 64}) {
    auto r = ComputePerplexity(tokens, *plan, batch, FakeScore, nullptr);
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    EXPECT_NEAR(r->mean_nll, 0.6, 1e-12);
    EXPECT_NEAR(r->perplexity, std::exp(0.6), 1e-12);
    EXPECT_EQ(r->scored_positions, 9);
  }
}

TEST(ComputePerplexity, StopsWhenCancelled) {
  const std::vector<int32_t> tokens(100, 1);
  auto plan = PlanWindows(100, 4, 4);
  JobContext job;
  job.Cancel();
  EXPECT_EQ(ComputePerplexity(tokens, *plan, 1, FakeScore, &job).status().code(),
            StatusCode::kCancelled);
}

TEST(PairedNllIncrease, MeanAndStandardErrorOverWindows) {
  auto plan = PlanWindows(12, 4, 4);  // 3 windows of 3 scored positions
  ASSERT_TRUE(plan.ok());
  PerplexityResult a, b;
  a.window_nll = {3.0, 3.0, 3.0};
  b.window_nll = {3.3, 3.6, 3.9};  // per-window increases 0.3, 0.6, 0.9 over 3 tokens each
  const NllIncrease d = PairedNllIncrease(*plan, a, b);
  EXPECT_NEAR(d.mean, 1.8 / 9, 1e-12);
  // residuals d_k - mean * 3 = -0.3, 0, 0.3: sqrt(0.18 * 3 / 2) / 9
  EXPECT_NEAR(d.stderr_value, std::sqrt(0.18 * 1.5) / 9, 1e-12);
  EXPECT_EQ(PairedNllIncrease(*plan, a, a).stderr_value, 0.0);
}

TEST(UnigramPerplexity, AddOneSmoothing) {
  // Train counts: token 0 x3, token 1 x1; vocab 2 -> p0 = 4/6, p1 = 2/6.
  const std::vector<int32_t> train = {0, 0, 0, 1};
  const std::vector<int32_t> eval = {1, 0, 1};  // scored: positions 1, 2 -> tokens 0, 1
  auto plan = PlanWindows(3, 3, 3);
  ASSERT_TRUE(plan.ok());
  const double expected = std::exp(-(std::log(4.0 / 6) + std::log(2.0 / 6)) / 2);
  EXPECT_NEAR(UnigramPerplexity(train, eval, *plan, 2), expected, 1e-12);
}

}  // namespace
}  // namespace qlab::accuracy
