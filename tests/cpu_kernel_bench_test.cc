// kernel_bench on CPU workers, end to end: a sweep with `device: cpu` submitted through the CLI
// runs on an ordinary qlab-worker (no GPU) and stores the documented metrics, per shape and for
// a whole model (`model:` a llama2.c file); bad params are refused at submit naming the field.
// Also the block-linear shapes read from the shipped model configs.
#include <gtest/gtest.h>

#include <fstream>
#include <map>

#include <nlohmann/json.hpp>

#include "evaluators/kernels/cpu_kernel_bench_job.h"
#include "tests/support/cluster.h"

namespace qlab::testing {
namespace {

using namespace std::chrono_literals;

std::map<std::string, double> MetricsOf(const nlohmann::json& row) {
  std::map<std::string, double> m;
  for (const auto& [name, value] : row["metrics"].items()) m[name] = value.get<double>();
  return m;
}

TEST(CpuKernelBenchTest, SweepOnCpuRunsOnAnOrdinaryWorkerWithTheDocumentedMetrics) {
  Cluster c;
  c.StartServer();
  c.StartWorker();
  const std::string sweep = c.dir().File("cpu.yaml");
  std::ofstream(sweep) << "name: cpu-kernels\nkind: kernel_bench\n"
                          "params: {device: cpu, shape: [512, 1024], batch: 2, repetitions: 3, threads: 1}\n"
                          "axes:\n  datatype: [int4_asym, nvfp4, razer_fp4]\n  activations: [fp32, int8]\n";
  std::string out;
  ASSERT_EQ(c.Cli({"submit", sweep}, &out), 0) << out;
  const std::string model = c.dir().File("model.yaml");
  std::ofstream(model) << "name: cpu-model\nkind: kernel_bench\nparams: {device: cpu, datatype: e2m1, model: "
                       << QLAB_SOURCE_DIR << "/models/kjv/model.bin, repetitions: 3, threads: 1}\n";
  ASSERT_EQ(c.Cli({"submit", model}, &out), 0) << out;

  auto done = [&](const char* experiment, size_t jobs) {
    std::string json;
    if (c.Cli({"results", "--experiment", experiment, "--json"}, &json) != 0) return false;
    auto rows = nlohmann::json::parse(json, nullptr, false);
    if (!rows.is_array() || rows.size() != jobs) return false;
    for (const auto& row : rows) {
      if (row["state"] != "SUCCEEDED" && row["state"] != "FAILED") return false;
    }
    return true;
  };
  ASSERT_TRUE(WaitFor([&] { return done("cpu-kernels", 6) && done("cpu-model", 1); }, 240s))
      << "jobs did not finish; see `qlab jobs`";

  ASSERT_EQ(c.Cli({"jobs", "--experiment", "cpu-kernels"}, &out), 0) << out;
  ASSERT_EQ(out.find("FAILED"), std::string::npos) << out;
  ASSERT_EQ(c.Cli({"results", "--experiment", "cpu-kernels", "--json"}, &out), 0) << out;
  for (const auto& row : nlohmann::json::parse(out)) {
    ASSERT_EQ(row["state"], "SUCCEEDED") << row.dump();
    const auto m = MetricsOf(row);
    const std::string what = row["params"].dump();
    EXPECT_GT(m.at("median_us"), 0.0) << what;
    EXPECT_GT(m.at("effective_gbps"), 0.0) << what;
    EXPECT_GT(m.at("read_bw_gbps"), 0.0) << what;
    EXPECT_GT(m.at("pct_of_read_bw"), 0.0) << what;
    EXPECT_GT(m.at("speedup_vs_fp32_blas"), 0.0) << what;
    EXPECT_LE(m.at("max_rel_err"), 1e-4) << what;
    EXPECT_EQ(m.at("check_ok"), 1.0) << what;
    EXPECT_GT(m.at("weight_rel_err"), 0.0) << what;  // 4-bit formats lose something
    if (row["params"]["activations"] == "int8") {
      EXPECT_GT(m.at("activation_rel_err"), 0.0) << what;
    } else {
      EXPECT_EQ(m.at("activation_rel_err"), 0.0) << what;
    }
    EXPECT_GT(m.at("bits_per_weight"), 4.0) << what;
  }

  ASSERT_EQ(c.Cli({"results", "--experiment", "cpu-model", "--json"}, &out), 0) << out;
  const auto model_row = nlohmann::json::parse(out).at(0);
  ASSERT_EQ(model_row["state"], "SUCCEEDED") << model_row.dump();
  const auto m = MetricsOf(model_row);
  EXPECT_GT(m.at("decode_linear_us"), 0.0);
  // models/kjv: 4 layers of q,k,v,o 128x128, gate,up 384x128, down 128x384.
  EXPECT_EQ(m.at("linear_shapes"), 3.0);
  EXPECT_EQ(m.at("linears_per_token"), 28.0);
  EXPECT_LE(m.at("max_rel_err"), 1e-4);
}

TEST(CpuKernelBenchTest, BadParamsAreRefusedAtSubmitNamingTheField) {
  Cluster c;
  c.StartServer();
  struct Case {
    const char* params;
    const char* expected;
  };
  for (const Case& bad : {Case{"{device: cpu, datatype: int4_asym, group_size: 64, shape: [256, 256]}", "group_size"},
                          Case{"{device: cpu, datatype: fp5, shape: [256, 256]}", "fp5"},
                          Case{"{device: cpu, datatype: nvfp4, shape: [256, 200]}", "multiple of 128"},
                          Case{"{device: cpu, datatype: nvfp4, shape: [256, 256], activations: int4}", "activations"},
                          Case{"{device: tpu, datatype: nvfp4, shape: [256, 256]}", "device"},
                          Case{"{device: cuda:0, datatype: nvfp4, shape: [256, 256], threads: 2}", "CPU params"}}) {
    const std::string sweep = c.dir().File("bad.yaml");
    std::ofstream(sweep) << "name: bad\nkind: kernel_bench\nparams: " << bad.params << "\n";
    std::string out;
    EXPECT_NE(c.Cli({"submit", sweep}, &out), 0) << bad.params;
    EXPECT_NE(out.find(bad.expected), std::string::npos) << bad.params << " -> " << out;
  }
}

TEST(CpuKernelBenchTest, ShippedConfigsGiveTheKnownBlockLinearShapes) {
  auto llama3 = kernels::ModelLinearShapes(std::string(QLAB_SOURCE_DIR) + "/models/configs/llama-3-8b.json");
  ASSERT_TRUE(llama3.ok()) << llama3.status().ToString();
  std::map<std::pair<int64_t, int64_t>, int> got;
  int total = 0;
  for (const auto& s : *llama3) {
    got[{s.n, s.k}] = s.count;
    total += s.count;
  }
  EXPECT_EQ(got[std::make_pair(int64_t{4096}, int64_t{4096})], 64);    // q, o
  EXPECT_EQ(got[std::make_pair(int64_t{1024}, int64_t{4096})], 64);    // k, v (8 KV heads)
  EXPECT_EQ(got[std::make_pair(int64_t{14336}, int64_t{4096})], 64);   // gate, up
  EXPECT_EQ(got[std::make_pair(int64_t{4096}, int64_t{14336})], 32);   // down
  EXPECT_EQ(total, 224);
  for (const char* name : {"llama-2-7b.json", "qwen2.5-7b.json"}) {
    auto shapes = kernels::ModelLinearShapes(std::string(QLAB_SOURCE_DIR) + "/models/configs/" + name);
    ASSERT_TRUE(shapes.ok()) << name << ": " << shapes.status().ToString();
    for (const auto& s : *shapes) EXPECT_EQ(s.k % 128, 0) << name;
  }
  EXPECT_EQ(kernels::ModelLinearShapes("/nonexistent/config.json").status().code(), StatusCode::kNotFound);
}

}  // namespace
}  // namespace qlab::testing
