// Torch-free parts of the predictor: params, dataset files, domains and split, encodings,
// rank metrics and the saved-model evaluator.
#include <cmath>
#include <cstdio>
#include <fstream>
#include <set>

#include <gtest/gtest.h>

#include "common/text_format.h"
#include "evaluators/latency/sample_stats.h"
#include "evaluators/predictor/dataset.h"
#include "evaluators/predictor/encoding.h"
#include "evaluators/predictor/predictor_model.h"
#include "evaluators/predictor/predictor_params.h"
#include "evaluators/predictor/rank_metrics.h"

namespace qlab::predictor {
namespace {

using nlohmann::json;

PredictorParams Parse(const json& j) {
  auto p = ParsePredictorParams(j);
  EXPECT_TRUE(p.ok()) << p.status().ToString();
  return p.ok() ? *p : PredictorParams{};
}

std::string ErrorOf(const json& j) {
  auto p = ParsePredictorParams(j);
  return p.ok() ? "" : std::string(p.status().message());
}

TEST(PredictorParamsTest, DefaultsAndOverrides) {
  PredictorParams p = Parse({{"space", "nb201"}, {"target_device", "cpu:*"}, {"target_samples", 20}});
  EXPECT_EQ(p.space, Space::kNb201);
  EXPECT_EQ(p.target_batch, 1);
  EXPECT_EQ(p.source_batches, std::vector<int>{1});
  EXPECT_TRUE(p.source_devices.empty());
  EXPECT_EQ(p.encoding, Encoding::kOneHotFlops);
  EXPECT_EQ(p.loss, Loss::kMseRank);

  p = Parse({{"space", "fbnet"}, {"target_device", "cuda:*H100*"}, {"target_batch", 8},
             {"target_samples", 50}, {"source_devices", "cpu:*"}, {"source_batches", json::array()},
             {"encoding", "onehot"}, {"loss", "rank"}, {"seed", 7}, {"lr", 0.01}});
  EXPECT_EQ(p.space, Space::kFbnet);
  EXPECT_EQ(p.source_devices, std::vector<std::string>{"cpu:*"});
  EXPECT_TRUE(p.source_batches.empty());
  EXPECT_EQ(p.encoding, Encoding::kOneHot);
  EXPECT_EQ(p.loss, Loss::kRank);
  EXPECT_EQ(p.seed, 7u);
  EXPECT_DOUBLE_EQ(p.lr, 0.01);
}

TEST(PredictorParamsTest, ErrorsNameTheField) {
  const json base = {{"space", "nb201"}, {"target_device", "cpu:*"}, {"target_samples", 20}};
  auto with = [&](const char* key, json v) {
    json j = base;
    j[key] = std::move(v);
    return ErrorOf(j);
  };
  auto without = [&](const char* key) {
    json j = base;
    j.erase(key);
    return ErrorOf(j);
  };
  EXPECT_EQ(without("space").rfind("space:", 0), 0u);
  EXPECT_EQ(without("target_device").rfind("target_device:", 0), 0u);
  EXPECT_EQ(without("target_samples").rfind("target_samples:", 0), 0u);
  EXPECT_EQ(with("space", "darts").rfind("space: unknown value 'darts'", 0), 0u);
  EXPECT_EQ(with("target_samples", 1).rfind("target_samples:", 0), 0u);
  EXPECT_EQ(with("source_batches", json::array({1, 0})).rfind("source_batches[1]:", 0), 0u);
  EXPECT_EQ(with("encoding", "graph").rfind("encoding:", 0), 0u);
  EXPECT_EQ(with("lr", 0).rfind("lr:", 0), 0u);
  EXPECT_EQ(with("layers", 9).rfind("layers:", 0), 0u);
  EXPECT_NE(with("target_smaples", 3).find("did you mean 'target_samples'"), std::string::npos);
  json j = base;
  j["dataset_file"] = "/tmp/x.csv";
  j["experiment"] = "nb201";
  EXPECT_EQ(ErrorOf(j).rfind("experiment:", 0), 0u);
}

constexpr const char* kCsv =
    "arch_index,arch,arch_key,device,batch,median_us,p10_us,p90_us,mean_us,min_us,cv,n,unstable,job_id\n"
    "0,\"|a|\",nb201:0,cpu:AMD EPYC,1,100,99,101,100,98,0.01,40,false,1\n"
    "1,\"|b|\",nb201:1,\"cpu:AMD EPYC, 2 cores\",1,200.5,199,201,200,198,0.01,40,false,2\n";

TEST(DatasetTest, ReadsCsvAndJsonExports) {
  auto rows = ParseDatasetExport(kCsv);
  ASSERT_TRUE(rows.ok()) << rows.status().ToString();
  ASSERT_EQ(rows->size(), 2u);
  EXPECT_EQ((*rows)[1].device, "cpu:AMD EPYC, 2 cores");
  EXPECT_EQ((*rows)[1].median_us, 200.5);

  auto js = ParseDatasetExport(R"([{"arch_key": "fbnet:0-1", "device": "cuda:X", "batch": 8,
                                    "median_us": 12.5, "cv": 0.1}])");
  ASSERT_TRUE(js.ok()) << js.status().ToString();
  EXPECT_EQ((*js)[0].batch, 8);

  EXPECT_FALSE(ParseDatasetExport("arch_key,device\nnb201:0,cpu\n").ok());
  auto bad = ParseDatasetExport("arch_key,device,batch,median_us\nnb201:0,cpu,1,-3\n");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("record 2"), std::string::npos);
  EXPECT_FALSE(ParseDatasetExport(R"([{"arch_key": "nb201:0"}])").ok());
  EXPECT_EQ(ReadDatasetFile("/nonexistent/x.csv").status().code(), StatusCode::kNotFound);
}

TEST(DatasetTest, JsonBatchIsCheckedAsCsvBatchIs) {
  // Found by tests/fuzz (dataset): JSON rows took any integer batch (0, -1, 2^40 wrapped to
  // an int) where CSV rows must hold one in [1, 2^20].
  for (const char* batch : {"0", "-3", "1099511627776", "18446744073709551615"}) {
    auto rows = ParseDatasetExport(std::string(R"([{"arch_key": "nb201:44", "device": "cpu",)") +
                                   R"( "batch": )" + batch + R"(, "median_us": 290}])");
    ASSERT_FALSE(rows.ok()) << batch;
    EXPECT_EQ(rows.status().message(),
              std::string("dataset[0]: batch must be a positive integer, got '") + batch + "'");
    EXPECT_FALSE(ParseDatasetExport(std::string("arch_key,device,batch,median_us\nnb201:44,cpu,") +
                                    batch + ",290\n")
                     .ok());
  }
  auto max = ParseDatasetExport(R"([{"arch_key": "nb201:44", "device": "cpu",
                                     "batch": 1048576, "median_us": 290}])");
  ASSERT_TRUE(max.ok()) << max.status().ToString();
  EXPECT_EQ((*max)[0].batch, 1 << 20);
}

std::vector<LatencyRow> Rows(const std::string& device, int batch, int count, double scale) {
  std::vector<LatencyRow> rows;
  for (int i = 0; i < count; ++i) {
    rows.push_back({"nb201:" + std::to_string(i), device, batch, scale * (100 + i)});
  }
  return rows;
}

TEST(DatasetTest, TaskSplitsByArchitectureAndNeverUsesTheTargetAsSource) {
  std::vector<LatencyRow> rows = Rows("cpu:EPYC", 1, 50, 1.0);
  auto more = Rows("cpu:EPYC", 8, 50, 5.0);
  rows.insert(rows.end(), more.begin(), more.end());
  more = Rows("cuda:H100", 1, 40, 0.1);
  rows.insert(rows.end(), more.begin(), more.end());
  rows.push_back({"nb201:3", "cpu:EPYC", 1, 1000.0});  // a repeat: merged by median
  rows.push_back({"nb201:3", "cpu:EPYC", 1, 1000.0});
  rows.push_back({"fbnet:0", "cpu:EPYC", 1, 5.0});     // another space: ignored

  PredictorParams p = Parse({{"space", "nb201"}, {"target_device", "*epyc*"},
                             {"target_samples", 10}, {"source_devices", "*"},
                             {"source_batches", json::array()}});
  auto task = BuildTask(p, rows);
  ASSERT_TRUE(task.ok()) << task.status().ToString();
  EXPECT_EQ(task->target, (Domain{"cpu:EPYC", 1}));
  EXPECT_EQ(task->target_train.size(), 10u);
  EXPECT_EQ(task->target_test.size(), 40u);
  std::set<std::string> seen;
  for (const auto& s : task->target_train) seen.insert(s.arch_key);
  for (const auto& s : task->target_test) {
    EXPECT_TRUE(seen.insert(s.arch_key).second) << s.arch_key << " is in train and test";
    if (s.arch_key == "nb201:3") EXPECT_EQ(s.latency_us, 1000.0);
  }
  ASSERT_EQ(task->sources.size(), 2u);  // (cpu:EPYC, 8) and (cuda:H100, 1), not the target
  EXPECT_EQ(task->sources[0], (Domain{"cpu:EPYC", 8}));
  EXPECT_EQ(task->sources[1], (Domain{"cuda:H100", 1}));

  // Same seed, same split; another seed, another split.
  auto again = BuildTask(p, rows);
  EXPECT_EQ(again->target_train[0].arch_key, task->target_train[0].arch_key);
  p.seed = 2;
  auto other = BuildTask(p, rows);
  bool differs = false;
  for (size_t i = 0; i < 10; ++i) differs |= other->target_train[i].arch_key != task->target_train[i].arch_key;
  EXPECT_TRUE(differs);

  p.test_samples = 5;
  EXPECT_EQ(BuildTask(p, rows)->target_test.size(), 5u);
}

TEST(DatasetTest, TaskErrorsExplainTheDataset) {
  std::vector<LatencyRow> rows = Rows("cpu:EPYC", 1, 5, 1.0);
  auto more = Rows("cpu:Xeon", 1, 5, 1.0);
  rows.insert(rows.end(), more.begin(), more.end());
  PredictorParams p = Parse({{"space", "nb201"}, {"target_device", "cpu:*"}, {"target_samples", 2}});
  auto ambiguous = BuildTask(p, rows);
  ASSERT_FALSE(ambiguous.ok());
  EXPECT_NE(ambiguous.status().message().find("'cpu:EPYC', 'cpu:Xeon'"), std::string::npos);
  p.target_device = "cuda:*";
  EXPECT_EQ(BuildTask(p, rows).status().code(), StatusCode::kInvalidArgument);
  p.target_device = "cpu:EPYC";
  p.target_samples = 5;
  EXPECT_EQ(BuildTask(p, rows).status().code(), StatusCode::kFailedPrecondition);
  p.target_samples = 2;
  p.source_devices = {"cuda:*"};
  auto no_source = BuildTask(p, rows);
  EXPECT_EQ(no_source.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_EQ(no_source.status().message().rfind("source_devices:", 0), 0u);
}

TEST(EncodingTest, OneHotAndFlops) {
  std::vector<float> x;
  // Benchmark index 0 is |avg_pool_3x3~0|+|nor_conv_1x1~0|skip_connect~1|+|nor_conv_1x1~0|skip_connect~1|skip_connect~2|.
  ASSERT_TRUE(EncodeArch(Space::kNb201, Encoding::kOneHotFlops, "nb201:0", &x).ok());
  ASSERT_EQ(static_cast<int>(x.size()), EncodingWidth(Space::kNb201, Encoding::kOneHotFlops));
  ASSERT_EQ(x.size(), 32u);
  EXPECT_EQ(x[0 * 5 + 4], 1.0f);  // edge 0: avg_pool_3x3
  EXPECT_EQ(x[1 * 5 + 2], 1.0f);  // edge 1: nor_conv_1x1
  EXPECT_EQ(x[5 * 5 + 1], 1.0f);  // edge 5: skip_connect
  float ones = 0;
  for (int i = 0; i < 30; ++i) ones += x[i];
  EXPECT_EQ(ones, 6.0f);
  EXPECT_NEAR(x[30], std::log(15647370.0), 1e-4);  // NAS-Bench-201's FLOPs of index 0
  EXPECT_NEAR(x[31], std::log(129306.0), 1e-4);

  x.clear();
  ASSERT_TRUE(EncodeArch(Space::kFbnet, Encoding::kOneHot,
                         "fbnet:8-8-8-8-8-8-8-8-8-8-8-8-8-8-8-8-8-8-8-8-8-0", &x).ok());
  ASSERT_EQ(x.size(), 22u * 9u);
  EXPECT_EQ(x[8], 1.0f);
  EXPECT_EQ(x[21 * 9 + 0], 1.0f);
  EXPECT_FALSE(EncodeArch(Space::kNb201, Encoding::kOneHot, "fbnet:1", &x).ok());
  EXPECT_FALSE(EncodeArch(Space::kNb201, Encoding::kOneHot, "nb201:15625", &x).ok());
  EXPECT_FALSE(EncodeArch(Space::kNb201, Encoding::kOneHot, "nb201:1x", &x).ok());
}

TEST(RankMetricsTest, KnownValues) {
  // Reference values: scipy.stats.kendalltau / spearmanr on the same data (tie-corrected).
  const std::vector<double> a = {12, 2, 1, 12, 2}, b = {1, 4, 7, 1, 0};
  EXPECT_NEAR(KendallTauB(a, b), -0.47140452079103173, 1e-12);
  const std::vector<double> c = {1, 2, 3, 4, 5}, d = {5, 6, 7, 8, 7};
  EXPECT_NEAR(latency::SpearmanRho(c, d), 0.8207826816681233, 1e-12);
  const std::vector<double> rev = {5, 4, 3, 2, 1};
  EXPECT_DOUBLE_EQ(latency::SpearmanRho(c, rev), -1.0);
  EXPECT_DOUBLE_EQ(KendallTauB(c, c), 1.0);
  EXPECT_EQ(latency::SpearmanRho(c, std::vector<double>(5, 1.0)), 0.0);

  const std::vector<double> measured = {100, 100, 100, 100}, predicted = {105, 89, 100, 120};
  EXPECT_DOUBLE_EQ(MeanAbsPercentError(predicted, measured), (5 + 11 + 0 + 20) / 4.0);
  EXPECT_DOUBLE_EQ(PercentWithin(predicted, measured, 0.10), 50.0);
}

TEST(ModelEvalTest, EvaluatesTheSavedForwardPass) {
  // One hidden ReLU layer of width 2 over 2 standardized features, one head.
  const json model = {
      {"feature_mean", {1.0, 0.0}},
      {"feature_std", {2.0, 1.0}},
      {"trunk", {{{"weight", {{1.0, 0.0}, {0.0, -1.0}}}, {"bias", {0.0, 0.5}}}}},
      {"heads", {{{"weight", {2.0, 1.0}}, {"bias", 0.25}, {"log_mean", 3.0}, {"log_std", 0.5}}}}};
  // features (3, 1) -> standardized (1, 1) -> relu(1, -0.5) = (1, 0) -> z = 2.25
  auto y = PredictWithModel(model, 0, {3.0f, 1.0f});
  ASSERT_TRUE(y.ok()) << y.status().ToString();
  EXPECT_NEAR(*y, std::exp(3.0 + 0.5 * 2.25), 1e-9);
  EXPECT_FALSE(PredictWithModel(model, 1, {3.0f, 1.0f}).ok());
  EXPECT_FALSE(PredictWithModel(model, 0, {3.0f}).ok());
  EXPECT_FALSE(PredictWithModel(json::object(), 0, {3.0f}).ok());
}

}  // namespace
}  // namespace qlab::predictor
