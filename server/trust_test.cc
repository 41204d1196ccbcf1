// The pure parts of "Can I trust this number?": comparability keys, resubmission plans, drift
// canary verdicts, and capability and quarantine matching.
#include <gtest/gtest.h>

#include <string>

#include "server/canary_monitor.h"
#include "server/comparability.h"
#include "server/matching.h"
#include "server/resubmission.h"

namespace qlab::server {
namespace {

TEST(ComparabilityTest, KeysIgnoreKeyOrderAndIntegralFloats) {
  auto a = ComputeComparability("quantize", R"({"group_size": 128, "datatype": "nf4"})",
                                R"({"device": {"model": "X", "clock": 2800}, "qlab": {"build": "abc"}})");
  auto b = ComputeComparability("quantize", R"({"datatype": "nf4", "group_size": 128.0})",
                                R"({"qlab": {"build": "abc"}, "device": {"clock": 2800.0, "model": "X"}})");
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_EQ(a->comparability_key, b->comparability_key);
  EXPECT_EQ(a->environment_key, b->environment_key);
  EXPECT_EQ(a->comparability_key.size(), 16u);
}

TEST(ComparabilityTest, TheKernelChangesTheComparabilityKeyNotTheEnvironment) {
  const std::string params = R"({"datatype": "int4_asym"})";
  auto native = ComputeComparability(
      "kernel_bench", params, R"({"device": {"model": "X"}, "kernel": {"name": "int4_asym", "backend": "native", "path": "avx2"}})");
  auto fallback = ComputeComparability(
      "kernel_bench", params, R"({"device": {"model": "X"}, "kernel": {"name": "int4_asym", "backend": "fallback", "path": "portable"}})");
  ASSERT_TRUE(native.ok() && fallback.ok());
  EXPECT_EQ(native->environment_key, fallback->environment_key);
  EXPECT_NE(native->comparability_key, fallback->comparability_key);
  EXPECT_EQ(native->backend, "native");
  EXPECT_EQ(fallback->backend, "fallback");
  // Other params: another measurement in the same environment.
  auto other = ComputeComparability("kernel_bench", R"({"datatype": "nvfp4"})",
                                    R"({"device": {"model": "X"}, "kernel": {"name": "int4_asym", "backend": "native", "path": "avx2"}})");
  ASSERT_TRUE(other.ok());
  EXPECT_EQ(other->environment_key, native->environment_key);
  EXPECT_NE(other->comparability_key, native->comparability_key);
  // Another device: another environment.
  auto moved = ComputeComparability("kernel_bench", params, R"({"device": {"model": "Y"}})");
  ASSERT_TRUE(moved.ok());
  EXPECT_NE(moved->environment_key, native->environment_key);
}

TEST(ComparabilityTest, HostileContextsAreRefusedNamingTheField) {
  for (const std::string& bad : {std::string("[1, 2]"), std::string("not json"),
                                 std::string(100, '[') + std::string(100, ']'),
                                 "{\"x\": \"" + std::string(kMaxContextBytes, 'a') + "\"}"}) {
    auto keys = ComputeComparability("noop", "{}", bad);
    ASSERT_FALSE(keys.ok()) << bad.substr(0, 40);
    EXPECT_EQ(keys.status().code(), StatusCode::kInvalidArgument);
    EXPECT_NE(keys.status().message().find("context_json"), std::string::npos);
  }
  auto none = ComputeComparability("noop", "{}", "");
  ASSERT_TRUE(none.ok());
  EXPECT_EQ(none->comparability_key, "");
}

TEST(ComparabilityTest, DiffListsTheLeavesThatDiffer) {
  auto diff = DiffContexts(R"({"device": {"driver": "535", "model": "H100"}, "qlab": {"build": "a"}})",
                           R"({"device": {"driver": "550", "model": "H100"}, "runtime": {"blas": "openblas"}})");
  ASSERT_EQ(diff.size(), 3u);
  EXPECT_EQ(diff[0].field, "device.driver");
  EXPECT_EQ(diff[0].a, "535");
  EXPECT_EQ(diff[0].b, "550");
  EXPECT_EQ(diff[1].field, "qlab.build");
  EXPECT_EQ(diff[1].b, "");
  EXPECT_EQ(diff[2].field, "runtime.blas");
  EXPECT_EQ(diff[2].a, "");
}

storage::JobRecord Existing(int64_t id, const std::string& label, storage::JobState state) {
  storage::JobRecord r;
  r.id = id;
  r.spec.kind = "noop";
  r.spec.params_json = "{\"label\": \"" + label + "\"}";
  r.state = state;
  return r;
}

std::vector<storage::JobSpec> Wanted(std::initializer_list<const char*> labels) {
  std::vector<storage::JobSpec> out;
  for (const char* l : labels) {
    storage::JobSpec s;
    s.kind = "noop";
    s.params_json = std::string("{\"label\":\"") + l + "\"}";  // another spelling, same params
    out.push_back(s);
  }
  return out;
}

TEST(ResubmissionTest, ReusesResultsAndLiveJobsRequeuesEndedOnesAndAddsTheRest) {
  using storage::JobState;
  const std::vector<storage::JobRecord> existing = {
      Existing(1, "a", JobState::kSucceeded), Existing(2, "b", JobState::kRunning),
      Existing(3, "c", JobState::kFailed), Existing(4, "d", JobState::kCancelled)};
  ResubmissionPlan plan = PlanResubmission(existing, Wanted({"a", "b", "c", "d", "e"}), false);
  EXPECT_EQ(plan.reused, 2);
  EXPECT_EQ(plan.requeue, (std::vector<int64_t>{3, 4}));
  ASSERT_EQ(plan.add.size(), 1u);
  EXPECT_NE(plan.add[0].params_json.find("\"e\""), std::string::npos);

  // Everything there: nothing runs.
  plan = PlanResubmission(existing, Wanted({"a", "b"}), false);
  EXPECT_EQ(plan.reused, 2);
  EXPECT_TRUE(plan.add.empty() && plan.requeue.empty());

  // force: a finished result runs again as a new job; a live one is still not doubled.
  plan = PlanResubmission(existing, Wanted({"a", "b", "c"}), true);
  EXPECT_EQ(plan.reused, 1);
  EXPECT_EQ(plan.requeue, (std::vector<int64_t>{3}));
  ASSERT_EQ(plan.add.size(), 1u);
  EXPECT_NE(plan.add[0].params_json.find("\"a\""), std::string::npos);

  // Other requirements: another job.
  auto on_gpu = Wanted({"a"});
  on_gpu[0].requirements.device_class = 2;
  plan = PlanResubmission(existing, on_gpu, false);
  EXPECT_EQ(plan.add.size(), 1u);
}

TEST(CanaryTest, JudgesAgainstARobustBaseline) {
  CanaryOptions options;
  EXPECT_EQ(JudgeCanary(100, {100, 101}, options).verdict, "baseline");
  const std::vector<double> baseline = {100, 101, 99, 100, 102, 98, 100};
  EXPECT_EQ(JudgeCanary(103, baseline, options).verdict, "ok");
  CanaryVerdict slow = JudgeCanary(150, baseline, options);
  EXPECT_EQ(slow.verdict, "drift");
  EXPECT_DOUBLE_EQ(slow.centre_us, 100);
  EXPECT_DOUBLE_EQ(slow.spread_us, 3);  // the floor: 3% of the centre
  EXPECT_NEAR(slow.z, 50.0 / 3, 1e-9);
  EXPECT_EQ(JudgeCanary(60, baseline, options).verdict, "drift") << "faster is a change too";
  // One wild baseline run does not widen the spread (median absolute deviation).
  EXPECT_EQ(JudgeCanary(150, {100, 100, 100, 100, 400}, options).verdict, "drift");
}

TEST(MatchingTest, TheCapabilityMatrixAndQuarantineDecideAndAreNamed) {
  DeviceInfo cpu;
  cpu.device_class = 1;
  cpu.name = "cpu";
  cpu.formats = {{"int4_asym", "native"}, {"nf4", "emulated"}};
  WorkerView w{"w1", {cpu}, {"kernel_bench", "quantize", "latency"}, true, 1, {}};

  storage::Requirements req;
  FormatRequirement("kernel_bench", R"({"device": "cpu", "datatype": "nf4"})", &req);
  EXPECT_EQ(req.format, "nf4");
  EXPECT_TRUE(req.native_format);
  EXPECT_FALSE(CanRun("kernel_bench", req, w));
  EXPECT_NE(PendingReason("kernel_bench", req, {w}).find("runs datatype nf4 natively"),
            std::string::npos);
  FormatRequirement("kernel_bench", R"({"device": "cpu", "kernel": "int4_asym"})", &req);
  EXPECT_TRUE(CanRun("kernel_bench", req, w));
  FormatRequirement("quantize", R"({"datatype": "nf4"})", &req);
  EXPECT_FALSE(req.native_format);
  EXPECT_TRUE(CanRun("quantize", req, w)) << "emulated is enough to quantize";
  FormatRequirement("quantize", R"({"datatype": "e2m1"})", &req);
  EXPECT_FALSE(CanRun("quantize", req, w)) << "absent from a probed matrix: not on this device";
  FormatRequirement("quantize", R"({"datatype": "not-a-datatype"})", &req);
  EXPECT_EQ(req.format, "") << "not a capability: the evaluator refuses it";

  // An unprobed device constrains nothing.
  WorkerView old = w;
  old.devices[0].formats.clear();
  FormatRequirement("kernel_bench", R"({"datatype": "nf4"})", &req);
  EXPECT_TRUE(CanRun("kernel_bench", req, old));

  // Quarantine closes the device to timing kinds only.
  w.quarantined = {"cpu"};
  FormatRequirement("kernel_bench", R"({"device": "cpu", "datatype": "int4_asym"})", &req);
  EXPECT_FALSE(CanRun("kernel_bench", req, w));
  EXPECT_NE(PendingReason("kernel_bench", req, {w}).find("quarantined"), std::string::npos);
  FormatRequirement("quantize", R"({"datatype": "nf4"})", &req);
  EXPECT_TRUE(CanRun("quantize", req, w));
}

}  // namespace
}  // namespace qlab::server
