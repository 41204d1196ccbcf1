#include "server/sweep.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

namespace qlab::server {
namespace {

TEST(SweepTest, CartesianProductFirstAxisSlowest) {
  auto s = ExpandSweep(R"({"name": "x", "kind": "noop", "params": {"duration_ms": 0},
                          "axes": {"seq": [1, 2, 3], "label": ["a", "b"]}})",
                       1000);
  ASSERT_TRUE(s.ok()) << s.status().ToString();
  ASSERT_EQ(s->jobs.size(), 6u);
  auto p0 = nlohmann::json::parse(s->jobs[0].params_json);
  auto p1 = nlohmann::json::parse(s->jobs[1].params_json);
  auto p5 = nlohmann::json::parse(s->jobs[5].params_json);
  EXPECT_EQ(p0["seq"], 1);
  EXPECT_EQ(p0["label"], "a");
  EXPECT_EQ(p1["label"], "b");
  EXPECT_EQ(p5["seq"], 3);
  EXPECT_EQ(p0["duration_ms"], 0);
  EXPECT_EQ(s->experiment.name, "x");
}

TEST(SweepTest, QuantizeSweepOfTheDesignValidates) {
  auto s = ExpandSweep(R"({"name": "w4-gaussian", "kind": "quantize",
      "params": {"distribution": "gaussian", "shape": [256, 4096], "seed": 1, "scale_search": "none"},
      "axes": {"datatype": ["int4_asym", "int8_asym", "e2m1", "nf4"], "group_size": [32, 128]}})",
                       1000);
  ASSERT_TRUE(s.ok()) << s.status().ToString();
  EXPECT_EQ(s->jobs.size(), 8u);
}

void ExpectInvalid(const std::string& sweep, const std::string& needle, int64_t max_jobs = 1000) {
  auto s = ExpandSweep(sweep, max_jobs);
  ASSERT_FALSE(s.ok()) << sweep;
  EXPECT_EQ(s.status().code(), StatusCode::kInvalidArgument) << s.status().ToString();
  EXPECT_NE(s.status().message().find(needle), std::string::npos) << s.status().message();
}

TEST(SweepTest, BadInputNamesTheField) {
  ExpectInvalid("{not json", "not valid JSON");
  ExpectInvalid(R"({"kind": "noop"})", "name");
  ExpectInvalid(R"({"name": "a", "kind": "bake"})", "kind 'bake' is unknown");
  ExpectInvalid(R"({"name": "a", "kind": "noop", "axes": {"seq": []}})", "axes.seq is empty");
  ExpectInvalid(R"({"name": "a", "kind": "noop", "axes": {"seq": 3}})", "axes.seq must be a list");
  ExpectInvalid(R"({"name": "a", "kind": "noop", "axes": {"seq": [1,2,3]}})", "more than 2", 2);
  ExpectInvalid(R"({"name": "a", "kind": "noop", "params": {"seq": 1}, "axes": {"seq": [1]}})",
                "repeats params.seq");
  ExpectInvalid(R"({"name": "a", "kind": "quantize", "params": {"distribution": "gaussian",
      "shape": [4, 128], "seed": 1}, "axes": {"datatype": ["int4_asym", "int5_magic"]}})",
                "datatype=\"int5_magic\"");
  ExpectInvalid(R"({"name": "a", "kind": "quantize", "params": {"distribution": "gaussian",
      "shape": [4, 128], "seed": 1, "datatype": "int4_asym", "group_size": -8}})", "group_size");
  ExpectInvalid(R"({"name": "a", "kind": "noop", "requirements": {"device_class": "tpu"}})",
                "requirements.device_class");
  ExpectInvalid(R"({"name": "a", "kind": "noop", "colour": "red"})", "colour");
  ExpectInvalid(R"({"name": "a", "kind": "kernel_bench", "params": {"kernel": "int3", "n": 64, "k": 128}})",
                "unknown kernel");
  ExpectInvalid(R"({"name": "a", "kind": "kernel_bench",
                    "params": {"kernel": "razer_w4", "n": 64, "k": 100}})",
                "k must be a positive multiple of 128");
  ExpectInvalid(R"({"name": "a", "kind": "latency", "params": {"space": "nb201", "arch_index": 20000}})",
                "arch_index");
  ExpectInvalid(R"({"name": "a", "kind": "latency", "params": {"space": "nb201", "arch_index": 1,
                    "batch": 0}})", "batch");
}

TEST(SweepTest, TimeoutReachesEveryJobAndIsBounded) {
  auto sweep = ExpandSweep(R"({"name": "t", "kind": "noop", "timeout_s": 90,
                               "axes": {"seq": [1, 2, 3]}})", 100);
  ASSERT_TRUE(sweep.ok()) << sweep.status().ToString();
  ASSERT_EQ(sweep->jobs.size(), 3u);
  for (const auto& j : sweep->jobs) EXPECT_EQ(j.timeout_s, 90);
  EXPECT_EQ(ExpandSweep(R"({"name": "t", "kind": "noop"})", 100)->jobs[0].timeout_s, 0);
  for (const char* bad : {R"(-1)", R"("90")", R"(1.5)", R"(2592001)"}) {
    auto refused = ExpandSweep(std::string(R"({"name": "t", "kind": "noop", "timeout_s": )") + bad + "}", 100);
    ASSERT_FALSE(refused.ok()) << bad;
    EXPECT_NE(refused.status().message().find("timeout_s must be an integer in [0, 2592000]"),
              std::string::npos) << refused.status().message();
  }
  EXPECT_FALSE(MakeJobSpec("noop", "{}", {}, 0, 0, -5).ok());
  EXPECT_EQ(MakeJobSpec("noop", "{}", {}, 0, 0, 7)->timeout_s, 7);
}

TEST(SweepTest, NoopFaultsAreNamedAndChecked) {
  EXPECT_TRUE(ExpandSweep(R"({"name": "f", "kind": "noop", "params": {"fault": "segv"}})", 10).ok());
  auto bad = ExpandSweep(R"({"name": "f", "kind": "noop", "params": {"fault": "reboot"}})", 10);
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("fault must be one of"), std::string::npos);
}

TEST(SweepTest, HostileNestingAndSizesAreRefusedBeforeParsing) {
  // 100,000 levels once crashed whoever recursed into them (a JSON writer, a validator).
  ExpectInvalid(R"({"name": "a", "kind": "noop", "params": {"label": )" + std::string(100000, '[') +
                    std::string(100000, ']') + "}}",
                "sweep nests deeper than 64 levels");
  // Params are copied into every job's row: one job's params are bounded.
  const std::string big(1 << 20, 'x');
  ExpectInvalid(R"({"name": "a", "kind": "noop", "params": {"label": ")" + big + R"("}})",
                "params of one job is 1048");
  ExpectInvalid(R"({"name": "a", "kind": "noop", "axes": {"label": ["small", ")" + big + R"("]}})",
                "(at label=");
  auto spec = MakeJobSpec("noop", R"({"label": ")" + big + R"("})", {}, 0, 0);
  ASSERT_FALSE(spec.ok());
  EXPECT_NE(spec.status().message().find("spec.params_json is 1048"), std::string::npos);
  spec = MakeJobSpec("noop", R"({"label": )" + std::string(1000, '[') + std::string(1000, ']') + "}",
                     {}, 0, 0);
  ASSERT_FALSE(spec.ok());
  EXPECT_NE(spec.status().message().find("spec.params_json nests deeper"), std::string::npos);
  ExpectInvalid(R"({"name": ")" + std::string(300, 'n') + R"(", "kind": "noop"})", "name is 300 bytes");
  ExpectInvalid(R"({"name": "a", "kind": "noop", "tags": [")" + std::string(300, 't') + R"("]})", "a tag is 300");
  ExpectInvalid(R"({"name": "a", "kind": "noop", "tags": [1]})", "tags must be a list of strings");
  // Just under the bounds is fine.
  EXPECT_TRUE(ExpandSweep(R"({"name": "a", "kind": "noop", "params": {"label": ")" +
                              std::string(60000, 'x') + R"("}})", 10).ok());
}

TEST(SweepTest, KernelBenchDefaultsToExclusiveCuda) {
  auto s = ExpandSweep(R"({"name": "k", "kind": "kernel_bench",
                          "params": {"kernel": "razer_w4", "n": 4096, "k": 4096, "batch": 1}})", 10);
  ASSERT_TRUE(s.ok()) << s.status().ToString();
  EXPECT_EQ(s->jobs[0].requirements.device_class, 2);
  EXPECT_TRUE(s->jobs[0].requirements.exclusive);
}

}  // namespace
}  // namespace qlab::server
