// RunLatencyJob end to end on CPU with a short protocol: output structure, context, metrics,
// bad input, unavailable device, cancellation.
#include "evaluators/latency/latency_job.h"

#include <gtest/gtest.h>

#include <map>

#include "evaluators/latency/device_info.h"
#include "evaluators/latency/network_builder.h"

namespace qlab::latency {
namespace {

using nlohmann::json;

// Short protocol so the test takes well under a second per architecture.
json Quick(json params) {
  params["warmup_runs"] = 2;
  params["warmup_min_s"] = 0;
  params["min_runs"] = 5;
  params["min_time_s"] = 0;
  params["max_time_s"] = 1;
  params["threads"] = 1;
  return params;
}

TEST(LatencyJobTest, MeasuresEveryArchitecture) {
  const std::vector<int> cpus_before = AllowedCpus();
  JobContext ctx;
  auto out = RunLatencyJob(Quick({{"space", "nb201"}, {"arch_indices", {1651, 0}}}), ctx);
  ASSERT_TRUE(out.ok()) << out.status().ToString();
  ASSERT_EQ(out->latency.size(), 2u);
  EXPECT_DOUBLE_EQ(ctx.progress(), 1.0);
  const LatencySampleSet& s = out->latency[1];
  EXPECT_EQ(out->latency[0].arch_key, "nb201:1651");
  EXPECT_EQ(s.arch_key, "nb201:0");
  EXPECT_EQ(s.device.rfind("cpu:", 0), 0u);
  EXPECT_EQ(s.batch, 1);
  EXPECT_GE(s.samples_us.size(), 5u);
  EXPECT_GT(s.median_us, 0);
  EXPECT_LE(s.min_us, s.p10_us);
  EXPECT_LE(s.p10_us, s.median_us);
  EXPECT_LE(s.median_us, s.p90_us);
  EXPECT_GE(s.cv, 0);

  json ctx_json = json::parse(s.context_json);
  EXPECT_EQ(ctx_json["protocol"]["version"], ProtocolSettings::kVersion);
  EXPECT_EQ(ctx_json["protocol"]["min_runs"], 5);
  EXPECT_EQ(ctx_json["network"]["arch_index"], 0);
  EXPECT_EQ(ctx_json["network"]["params"], 129306);
  EXPECT_EQ(ctx_json["network"]["flops_per_image"], 15647370);
  EXPECT_EQ(ctx_json["network"]["output_shape"], json({1, 10}));
  EXPECT_EQ(ctx_json["device"]["threads"], 1);
  EXPECT_FALSE(ctx_json["device"]["torch"]["version"].get<std::string>().empty());
  EXPECT_FALSE(ctx_json["device"]["host"]["cpu_model"].get<std::string>().empty());
  EXPECT_GE(ctx_json["measurement"]["warmup_runs"], 2);
  EXPECT_TRUE(ctx_json["measurement"].contains("other_busy_cpus"));
  // One thread is pinned to the last allowed CPU for the job, and unpinned afterwards.
  if (cpus_before.size() > 1) {
    EXPECT_EQ(ctx_json["device"]["pinned_cpus"], json({cpus_before.back()}));
  }
  EXPECT_EQ(AllowedCpus(), cpus_before);

  std::map<std::string, double> metrics;
  for (const Metric& m : out->metrics) metrics[m.name] = m.value;
  EXPECT_EQ(metrics["n_archs"], 2);
  // The summary metrics are the sample sets' own figures, not independent guesses.
  EXPECT_EQ(metrics["n_unstable"], (out->latency[0].unstable ? 1 : 0) + (s.unstable ? 1 : 0));
  EXPECT_LE(metrics["n_retried"], 2.0 * ProtocolSettings().retry_unstable);
  EXPECT_EQ(metrics["min_median_us"], std::min(out->latency[0].median_us, s.median_us));
  EXPECT_EQ(metrics["max_median_us"], std::max(out->latency[0].median_us, s.median_us));
  EXPECT_GE(metrics["median_of_medians_us"], metrics["min_median_us"]);
  EXPECT_LE(metrics["median_of_medians_us"], metrics["max_median_us"]);
  EXPECT_GT(metrics["archs_per_min"], 0);
}

TEST(LatencyJobTest, FbnetArchitecture) {
  JobContext ctx;
  json arch = json(std::vector<int>(22, 8));
  arch[3] = 7;
  auto out = RunLatencyJob(Quick({{"space", "fbnet"}, {"arch", arch}}), ctx);
  ASSERT_TRUE(out.ok()) << out.status().ToString();
  ASSERT_EQ(out->latency.size(), 1u);
  EXPECT_EQ(out->latency[0].arch_key, "fbnet:8-8-8-7-8-8-8-8-8-8-8-8-8-8-8-8-8-8-8-8-8-8");
  EXPECT_EQ(json::parse(out->latency[0].context_json)["network"]["output_shape"], json({1, 100}));
}

// The protocol document's sanity checks, on networks far enough apart that a loaded machine
// cannot reorder them: the all-none cell (no work in cells) beats the all-conv3x3 cell, and
// batch 8 is not faster than batch 1.
TEST(LatencyJobTest, SanityOrdering) {
  JobContext ctx;
  auto out = RunLatencyJob(Quick({{"space", "nb201"}, {"arch_indices", {1651, 1462}}}), ctx);
  ASSERT_TRUE(out.ok()) << out.status().ToString();
  EXPECT_LT(out->latency[0].median_us, out->latency[1].median_us);
  auto b8 = RunLatencyJob(Quick({{"space", "nb201"}, {"arch_index", 1462}, {"batch", 8}}), ctx);
  ASSERT_TRUE(b8.ok()) << b8.status().ToString();
  EXPECT_GT(b8->latency[0].median_us, out->latency[1].median_us);
  EXPECT_EQ(json::parse(b8->latency[0].context_json)["network"]["input_shape"],
            json({8, 3, 32, 32}));
}

TEST(LatencyJobTest, BadInputAndUnavailableDevice) {
  JobContext ctx;
  auto bad = RunLatencyJob({{"space", "nb201"}, {"arch_index", 1}, {"batch", 0}}, ctx);
  EXPECT_EQ(bad.status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(bad.status().message().rfind("batch:", 0), 0u);
  auto malformed = RunLatencyJob({{"space", "nb201"}, {"arch", "|none~0|"}}, ctx);
  EXPECT_EQ(malformed.status().code(), StatusCode::kInvalidArgument);
  auto cuda =
      RunLatencyJob(Quick({{"space", "nb201"}, {"arch_index", 1}, {"device", "cuda:7"}}), ctx);
  if (GetTorchRuntime().cuda_device_count <= 7) {  // every machine but one with 8+ GPUs
    ASSERT_FALSE(cuda.ok());
    EXPECT_EQ(cuda.status().code(), StatusCode::kFailedPrecondition);
    EXPECT_NE(cuda.status().message().find("cuda:7"), std::string::npos) << cuda.status().message();
  }
}

LatencySampleSet FakeSet(double median_us, double cv, bool unstable) {
  LatencySampleSet s;
  s.median_us = median_us;
  s.cv = cv;
  s.unstable = unstable;
  s.samples_us = {median_us, median_us};
  s.context_json = json({{"measurement", {{"start_time", "t"}}}}).dump();
  return s;
}

TEST(LatencyJobTest, MergeRetryKeepsTheBetterSetAndTheEvidence) {
  // A stable retry replaces an unstable first attempt.
  LatencySampleSet a = MergeRetry(FakeSet(900, 0.2, true), FakeSet(500, 0.01, false));
  EXPECT_EQ(a.median_us, 500);
  EXPECT_FALSE(a.unstable);
  json ctx = json::parse(a.context_json);
  ASSERT_EQ(ctx["superseded"].size(), 1u);
  EXPECT_EQ(ctx["superseded"][0]["median_us"], 900);
  EXPECT_EQ(ctx["superseded"][0]["samples_us"].size(), 2u);
  // Both unstable: the lower CV wins, still marked unstable.
  LatencySampleSet b = MergeRetry(FakeSet(900, 0.2, true), FakeSet(950, 0.3, true));
  EXPECT_EQ(b.median_us, 900);
  EXPECT_TRUE(b.unstable);
  // Evidence accumulates over several retries.
  LatencySampleSet c = MergeRetry(std::move(b), FakeSet(510, 0.02, false));
  EXPECT_EQ(json::parse(c.context_json)["superseded"].size(), 2u);
}

TEST(LatencyJobTest, CancelledJobStops) {
  JobContext ctx;
  ctx.Cancel();
  auto out = RunLatencyJob(Quick({{"space", "nb201"}, {"arch_range", {0, 50}}}), ctx);
  EXPECT_EQ(out.status().code(), StatusCode::kCancelled);
}

}  // namespace
}  // namespace qlab::latency
