// The predictor end to end on synthetic devices whose latency follows known per-operation
// costs: transfer from measured source devices must beat training on the few target samples
// alone, the saved artifact must be the model that was scored, and runs are reproducible.
#include <cmath>
#include <random>

#include <gtest/gtest.h>

#include "evaluators/latency/nas_cost.h"
#include "evaluators/latency/nb201.h"
#include "evaluators/predictor/encoding.h"
#include "evaluators/predictor/predictor_job.h"
#include "evaluators/predictor/predictor_model.h"

namespace qlab::predictor {
namespace {

using nlohmann::json;

// A device: a fixed cost per operation and edge, a cost per MFLOP, and a penalty for cells
// with three or more 3x3 convolutions (a cache effect no single-op table captures).
struct SyntheticDevice {
  std::string name;
  double op_us[5];  // none, skip, conv1x1, conv3x3, pool
  double us_per_mflop;
  double crowded_conv_us;
};

double SyntheticLatency(const SyntheticDevice& d, int index, std::mt19937_64& rng) {
  const nas::Nb201Ops ops = *nas::Nb201OpsOf(index);
  double us = 100;
  int conv3 = 0;
  for (int e = 0; e < nas::kNb201NumEdges; ++e) {
    const int op = static_cast<int>(ops[e]);
    us += d.op_us[op] * (1.0 + 0.1 * e);
    conv3 += op == 3;
  }
  us += d.us_per_mflop * nas::Nb201Cost(ops, nas::Nb201Dataset::kCifar10).flops / 1e6;
  if (conv3 >= 3) us += d.crowded_conv_us;
  std::normal_distribution<double> noise(0.0, 0.02);
  return us * (1.0 + noise(rng));
}

// Memory-bound operations (pooling, even skip and none) cost real time here, as on CPUs, so
// FLOPs alone rank these devices imperfectly.
const SyntheticDevice kSourceA{"cpu:Synthetic A", {2, 1.5, 8, 15, 12}, 0.03, 20};
const SyntheticDevice kSourceB{"cuda:Synthetic B", {4, 1, 5, 20, 18}, 0.01, 40};
const SyntheticDevice kTarget{"npu:Synthetic T", {3, 2, 6, 12, 14}, 0.02, 30};

std::vector<LatencyRow> Dataset() {
  std::vector<LatencyRow> rows;
  std::mt19937_64 rng(42);
  for (const auto* d : {&kSourceA, &kSourceB}) {
    for (int i = 0; i < 1500; ++i) {
      rows.push_back({"nb201:" + std::to_string(i), d->name, 1, SyntheticLatency(*d, i, rng)});
    }
  }
  for (int i = 5000; i < 5600; ++i) {
    rows.push_back({"nb201:" + std::to_string(i), kTarget.name, 1, SyntheticLatency(kTarget, i, rng)});
  }
  return rows;
}

PredictorParams Params(json extra) {
  json j = {{"space", "nb201"}, {"target_device", "npu:*"}, {"target_samples", 20},
            {"hidden", 64}, {"epochs", 60}};
  if (extra.is_object()) j.update(extra);
  auto p = ParsePredictorParams(j);
  EXPECT_TRUE(p.ok()) << p.status().ToString();
  return *p;
}

std::map<std::string, double> Metrics(const JobOutput& out) {
  std::map<std::string, double> m;
  for (const auto& metric : out.metrics) m[metric.name] = metric.value;
  return m;
}

TEST(PredictorJobTest, TransferFromSourceDevicesBeatsTheFewTargetSamplesAlone) {
  const auto rows = Dataset();
  JobContext context;
  auto transfer = RunPredictorJob(Params({{"source_devices", {"cpu:*", "cuda:*"}}}), rows, context);
  ASSERT_TRUE(transfer.ok()) << transfer.status().ToString();
  auto scratch = RunPredictorJob(Params(json::object()), rows, context);
  ASSERT_TRUE(scratch.ok()) << scratch.status().ToString();
  auto t = Metrics(*transfer), s = Metrics(*scratch);
  EXPECT_EQ(t["target_samples"], 20);
  EXPECT_EQ(t["test_samples"], 580);
  EXPECT_EQ(t["source_domains"], 2);
  EXPECT_EQ(t["source_samples"], 3000);
  EXPECT_EQ(s["source_domains"], 0);
  EXPECT_GT(t["spearman_rho"], 0.9) << "transfer";
  EXPECT_GT(t["spearman_rho"], s["spearman_rho"]);
  EXPECT_GT(t["kendall_tau"], s["kendall_tau"]);
  EXPECT_LT(t["mape"], s["mape"]);
  EXPECT_LT(t["mape"], 6.0);
  EXPECT_GT(t["acc_10pct"], 85.0);
  // FLOPs alone rank this device worse than the transferred predictor.
  EXPECT_GT(t["spearman_rho"], t["flops_spearman_rho"]);
  EXPECT_EQ(context.progress(), 1.0);
}

TEST(PredictorJobTest, RankingLossIsCalibratedToTheTargetScale) {
  JobContext context;
  auto out = RunPredictorJob(Params({{"source_devices", "*"}, {"loss", "rank"}}), Dataset(), context);
  ASSERT_TRUE(out.ok()) << out.status().ToString();
  EXPECT_GT(Metrics(*out)["spearman_rho"], 0.9);
  EXPECT_LT(Metrics(*out)["mape"], 8.0);
}

TEST(PredictorJobTest, ArtifactIsTheScoredModel) {
  const auto rows = Dataset();
  PredictorParams params = Params({{"source_devices", "cpu:*"}, {"test_samples", 30}});
  auto task = BuildTask(params, rows);
  ASSERT_TRUE(task.ok());
  auto encode = [&](const std::vector<Sample>& samples) {
    auto rows = EncodeSamples(params.space, params.encoding, samples);
    EXPECT_TRUE(rows.ok()) << rows.status().ToString();
    return rows.ok() ? *rows : EncodedRows{};
  };
  FitInput input;
  input.width = EncodingWidth(params.space, params.encoding);
  input.sources.push_back(encode(task->source_samples[0]));
  input.target_train = encode(task->target_train);
  input.target_test = encode(task->target_test);
  JobContext context;
  auto fit = FitPredictor(input, params, context);
  ASSERT_TRUE(fit.ok()) << fit.status().ToString();
  ASSERT_EQ(fit->predicted_us.size(), 30u);
  for (size_t i = 0; i < 30; ++i) {
    std::vector<float> x(input.target_test.features.begin() + i * input.width,
                         input.target_test.features.begin() + (i + 1) * input.width);
    auto y = PredictWithModel(fit->model, /*head=*/1, x);
    ASSERT_TRUE(y.ok()) << y.status().ToString();
    EXPECT_NEAR(*y / fit->predicted_us[i], 1.0, 1e-4) << i;
  }

  auto out = RunPredictorJob(params, rows, context);
  ASSERT_TRUE(out.ok());
  ASSERT_EQ(out->artifacts.size(), 1u);
  EXPECT_EQ(out->artifacts[0].name, kPredictorArtifactName);
  EXPECT_EQ(out->artifacts[0].media_type, "application/json");
  const json artifact = json::parse(out->artifacts[0].bytes);
  EXPECT_EQ(artifact["format"], kPredictorArtifactFormat);
  EXPECT_EQ(artifact["space"], "nb201");
  EXPECT_EQ(artifact["encoding"], "onehot_flops");
  EXPECT_EQ(artifact["target"], 1);
  EXPECT_EQ(artifact["domains"][1]["device"], kTarget.name);
  EXPECT_EQ(artifact["domains"][0]["samples"], 1500);
  EXPECT_EQ(artifact["model"]["heads"].size(), 2u);
}

TEST(PredictorJobTest, SameSeedSameResultAndCancellation) {
  const auto rows = Dataset();
  PredictorParams params = Params({{"source_devices", "cuda:*"}, {"epochs", 5}, {"loss", "mse"}});
  JobContext context;
  auto a = RunPredictorJob(params, rows, context);
  auto b = RunPredictorJob(params, rows, context);
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_EQ(Metrics(*a)["spearman_rho"], Metrics(*b)["spearman_rho"]);
  EXPECT_EQ(Metrics(*a)["mape"], Metrics(*b)["mape"]);

  JobContext cancelled;
  cancelled.Cancel();
  EXPECT_EQ(RunPredictorJob(params, rows, cancelled).status().code(), StatusCode::kCancelled);
}

}  // namespace
}  // namespace qlab::predictor
