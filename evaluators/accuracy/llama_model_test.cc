// The LibTorch decoder: save -> load gives identical logits (llama2.c and Hugging Face, F32 and
// sharded BF16), both RoPE conventions agree on permuted weights, grouped-query attention equals
// multi-head attention with repeated K/V, and a model whose perplexity is computed by hand.
#include "evaluators/accuracy/llama_model.h"

#include <gtest/gtest.h>

#include <cmath>
#include <nlohmann/json.hpp>

#include "evaluators/accuracy/perplexity.h"
#include "evaluators/accuracy/test_util.h"

namespace qlab::accuracy {
namespace {

using testing::MakeTempDir;
using testing::RandomWeights;

const std::vector<int32_t> kTokens = {1, 7, 3, 3, 9, 0, 12, 5, 2, 8, 11, 4};

ModelConfig TinyConfig(int64_t kv_heads = 2) {
  return Llama2cConfig(/*dim=*/32, /*hidden_dim=*/48, /*n_layers=*/2, /*n_heads=*/4, kv_heads,
                       /*vocab_size=*/13, /*max_seq_len=*/16, /*shared_classifier=*/false);
}

std::vector<float> LogitsOf(LlamaModel& model) { return model.Logits(kTokens).value(); }

TensorProvider FromModel(const LlamaModel& model) {
  return [&model](const TensorSpec& spec) { return model.ReadWeight(spec); };
}

TEST(LlamaModel, Llama2cSaveLoadGivesIdenticalLogits) {
  const ModelConfig c = TinyConfig();
  auto original = LlamaModel::Create(c, RandomWeights(11), ModelOptions());
  ASSERT_TRUE(original.ok()) << original.status().ToString();
  const std::vector<float> before = LogitsOf(**original);
  ASSERT_EQ(before.size(), kTokens.size() * 13);
  for (float v : before) ASSERT_TRUE(std::isfinite(v));

  const std::string path = MakeTempDir() + "/model.bin";
  ASSERT_TRUE(WriteLlama2cCheckpoint(path, c, FromModel(**original)).ok());
  auto ckpt = Checkpoint::Open(path);
  ASSERT_TRUE(ckpt.ok()) << ckpt.status().ToString();
  auto loaded = LlamaModel::Load(**ckpt, ModelOptions());
  ASSERT_TRUE(loaded.ok()) << loaded.status().ToString();
  EXPECT_EQ(LogitsOf(**loaded), before);
}

// The same weights in Hugging Face layout: q/k rows permuted for rotate-half RoPE. Logits agree
// with the interleaved (llama2.c) model up to float rounding; BF16 shards load bit-exactly.
TEST(LlamaModel, HuggingFaceFolderMatchesLlama2cModel) {
  const ModelConfig c = TinyConfig();
  // BF16-representable weights so that the BF16 folder holds exactly the same values.
  const TensorProvider base = RandomWeights(12);
  const TensorProvider weights = [&](const TensorSpec& s) -> StatusOr<std::vector<float>> {
    std::vector<float> v = base(s).value();
    for (float& x : v) x = testing::RoundToBf16(x);
    return v;
  };
  auto meta = LlamaModel::Create(c, weights, ModelOptions());
  ASSERT_TRUE(meta.ok());
  const std::vector<float> expected = LogitsOf(**meta);

  ModelConfig hf = c;
  hf.architecture = "LlamaForCausalLM";
  hf.rope_interleaved = false;
  for (const std::string dtype : {"F32", "BF16"}) {
    const std::string dir = MakeTempDir();
    testing::WriteFile(dir + "/config.json", testing::HfConfigJson(hf));
    std::vector<testing::TestTensor> shard[2];
    nlohmann::json index = {{"weight_map", nlohmann::json::object()}};
    int i = 0;
    for (const TensorSpec& s : RequiredTensors(c)) {
      std::vector<float> v = weights(s).value();
      if (s.name.find("q_proj") != std::string::npos) {
        v = testing::PermuteForHf(v, c.n_heads, c.head_dim, c.dim);
      } else if (s.name.find("k_proj") != std::string::npos) {
        v = testing::PermuteForHf(v, c.n_kv_heads, c.head_dim, c.dim);
      }
      const int k = i++ % 2;
      shard[k].push_back({s.name, dtype, s.shape, v});
      index["weight_map"][s.name] = "part" + std::to_string(k) + ".safetensors";
    }
    testing::WriteSafetensors(dir + "/part0.safetensors", shard[0]);
    testing::WriteSafetensors(dir + "/part1.safetensors", shard[1]);
    testing::WriteFile(dir + "/model.safetensors.index.json", index.dump());

    auto ckpt = Checkpoint::Open(dir);
    ASSERT_TRUE(ckpt.ok()) << ckpt.status().ToString();
    // config.json has rms_norm_eps 1e-5 here (HfConfigJson copies the config).
    auto model = LlamaModel::Load(**ckpt, ModelOptions());
    ASSERT_TRUE(model.ok()) << model.status().ToString();
    const std::vector<float> got = LogitsOf(**model);
    ASSERT_EQ(got.size(), expected.size());
    for (size_t j = 0; j < got.size(); ++j) EXPECT_NEAR(got[j], expected[j], 1e-4) << dtype << j;
  }
}

TEST(LlamaModel, GroupedQueryAttentionEqualsRepeatedHeads) {
  const ModelConfig gqa = TinyConfig(/*kv_heads=*/2);
  const ModelConfig mha = TinyConfig(/*kv_heads=*/4);
  const TensorProvider weights = RandomWeights(13);
  // MHA's K/V heads 0,1 repeat GQA's head 0 and heads 2,3 its head 1.
  const TensorProvider repeated = [&](const TensorSpec& s) -> StatusOr<std::vector<float>> {
    if (s.name.find("k_proj") == std::string::npos && s.name.find("v_proj") == std::string::npos) {
      return weights(s);
    }
    TensorSpec small = s;
    small.shape[0] = gqa.n_kv_heads * gqa.head_dim;
    const std::vector<float> w = weights(small).value();
    std::vector<float> out;
    const size_t head_size = static_cast<size_t>(gqa.head_dim * gqa.dim);
    for (int64_t h = 0; h < mha.n_heads; ++h) {
      const size_t src = static_cast<size_t>(h / 2) * head_size;
      out.insert(out.end(), w.begin() + static_cast<long>(src),
                 w.begin() + static_cast<long>(src + head_size));
    }
    return out;
  };
  auto a = LlamaModel::Create(gqa, weights, ModelOptions());
  auto b = LlamaModel::Create(mha, repeated, ModelOptions());
  ASSERT_TRUE(a.ok() && b.ok());
  const std::vector<float> la = LogitsOf(**a), lb = LogitsOf(**b);
  for (size_t j = 0; j < la.size(); ++j) EXPECT_NEAR(la[j], lb[j], 1e-5);
}

// Blocks whose output projections are zero leave the residual stream equal to the embedding,
// so logits = E * RMSNorm(E[token]) and the perplexity follows by hand.
TEST(LlamaModel, PerplexityOfAKnownModelComputedByHand) {
  const ModelConfig c = Llama2cConfig(/*dim=*/2, /*hidden_dim=*/2, /*n_layers=*/1, /*n_heads=*/1,
                                      /*n_kv_heads=*/1, /*vocab_size=*/3, /*max_seq_len=*/4,
                                      /*shared_classifier=*/true);
  const std::vector<float> embedding = {1, 0, 0, 1, 1, 1};  // rows: tokens 0, 1, 2
  const TensorProvider weights = [&](const TensorSpec& s) -> StatusOr<std::vector<float>> {
    if (s.role == TensorRole::kEmbedding) return embedding;
    if (s.role == TensorRole::kNorm) return std::vector<float>(2, 1.0f);
    // Projections: random, except o_proj and down_proj which are zero.
    std::vector<float> v = RandomWeights(3)(s).value();
    if (s.name.find("o_proj") != std::string::npos ||
        s.name.find("down_proj") != std::string::npos) {
      std::fill(v.begin(), v.end(), 0.0f);
    }
    return v;
  };
  auto model = LlamaModel::Create(c, weights, ModelOptions());
  ASSERT_TRUE(model.ok()) << model.status().ToString();

  // -log p(next | current) for this model.
  auto nll = [&](int current, int next) {
    const double x0 = embedding[2 * current], x1 = embedding[2 * current + 1];
    const double r = 1.0 / std::sqrt((x0 * x0 + x1 * x1) / 2 + 1e-5);
    double logits[3], norm = 0;
    for (int t = 0; t < 3; ++t) {
      logits[t] = embedding[2 * t] * x0 * r + embedding[2 * t + 1] * x1 * r;
      norm += std::exp(logits[t]);
    }
    return -(logits[next] - std::log(norm));
  };
  const std::vector<int32_t> text = {0, 1, 2, 2, 0, 1, 1, 0, 2, 1};
  auto plan = PlanWindows(static_cast<int64_t>(text.size()), 4, 2);
  ASSERT_TRUE(plan.ok());
  // Stride 2 < context 4: every position 1..9 is scored exactly once.
  double sum = 0;
  for (size_t i = 1; i < text.size(); ++i) sum += nll(text[i - 1], text[i]);
  const double expected = std::exp(sum / 9);

  auto result = ComputePerplexity(
      text, *plan, 2,
      [&](const std::vector<const int32_t*>& w, int64_t ctx,
          std::vector<std::vector<double>>* out) { return (*model)->ScoreWindows(w, ctx, out); },
      nullptr);
  ASSERT_TRUE(result.ok()) << result.status().ToString();
  EXPECT_EQ(result->scored_positions, 9);
  EXPECT_NEAR(result->perplexity, expected, 1e-5 * expected);
}

TEST(LlamaModel, BadInputs) {
  auto model = LlamaModel::Create(TinyConfig(), RandomWeights(1), ModelOptions());
  ASSERT_TRUE(model.ok());
  const std::vector<int32_t> bad = {1, 2, 13, 4};
  std::vector<std::vector<double>> nll;
  const Status s = (*model)->ScoreWindows({bad.data()}, 4, &nll);
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(s.message().find("token id 13"), std::string::npos) << s.message();

  ModelOptions gpu;
  gpu.device = CudaAvailable() ? "cuda:99" : "cuda:0";
  EXPECT_EQ(LlamaModel::Create(TinyConfig(), RandomWeights(1), gpu).status().code(),
            StatusCode::kFailedPrecondition);
  ModelOptions bad_dtype;
  bad_dtype.dtype = "float8";
  EXPECT_EQ(LlamaModel::Create(TinyConfig(), RandomWeights(1), bad_dtype).status().code(),
            StatusCode::kInvalidArgument);
}

TEST(LlamaModel, HalfPrecisionIsCloseToFloat32) {
  auto f32 = LlamaModel::Create(TinyConfig(), RandomWeights(4), ModelOptions());
  ModelOptions bf16;
  bf16.dtype = "bfloat16";
  auto b = LlamaModel::Create(TinyConfig(), RandomWeights(4), bf16);
  ASSERT_TRUE(f32.ok() && b.ok()) << b.status().ToString();
  const std::vector<float> x = LogitsOf(**f32), y = LogitsOf(**b);
  double max_abs = 0, max_diff = 0;
  for (size_t i = 0; i < x.size(); ++i) {
    max_abs = std::max(max_abs, std::fabs(static_cast<double>(x[i])));
    max_diff = std::max(max_diff, std::fabs(static_cast<double>(x[i]) - y[i]));
  }
  EXPECT_LT(max_diff, 0.05 * max_abs + 0.05);
}

}  // namespace
}  // namespace qlab::accuracy
