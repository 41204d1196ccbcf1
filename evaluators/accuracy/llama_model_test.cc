// The LibTorch decoder: save -> load gives identical logits (llama2.c and Hugging Face, F32 and
// sharded BF16), both RoPE conventions agree on permuted weights, grouped-query attention equals
// multi-head attention with repeated K/V, a model whose perplexity is computed by hand, every
// position's NLL equal to an independent one-token-at-a-time decoder's, and a causal mask.
#include "evaluators/accuracy/llama_model.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <nlohmann/json.hpp>

#include "evaluators/accuracy/perplexity.h"
#include "evaluators/accuracy/reference_decoder.h"
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

// Random weights everywhere: attention, RoPE, grouped-query heads and SwiGLU all reach the
// logits. Every position's NLL must equal that of run.c's one-token-at-a-time forward pass
// (reference_decoder.h), which shares no code with the LibTorch model and sees no later token.
TEST(LlamaModel, EveryPositionMatchesTheOneTokenReferenceDecoder) {
  struct Case {
    const char* what;
    ModelConfig config;
  };
  ModelConfig hf = TinyConfig(/*kv_heads=*/2);
  hf.rope_interleaved = false;  // Hugging Face's rotate-half layout
  hf.rope_theta = 500000.0;
  ModelConfig wide = Llama2cConfig(/*dim=*/64, /*hidden_dim=*/96, /*n_layers=*/3, /*n_heads=*/4,
                                   /*n_kv_heads=*/4, /*vocab_size=*/13, /*max_seq_len=*/16,
                                   /*shared_classifier=*/true);
  const Case cases[] = {{"grouped-query, interleaved RoPE", TinyConfig(2)},
                        {"multi-head, shared classifier", wide},
                        {"rotate-half RoPE, theta 5e5", hf}};
  // Three windows of 12 tokens, scored together on two threads (one shard each side).
  std::vector<std::vector<int32_t>> windows = {kTokens, kTokens, kTokens};
  std::reverse(windows[1].begin(), windows[1].end());
  for (int32_t& t : windows[2]) t = (t * 5 + 3) % 13;
  for (const Case& c : cases) {
    SCOPED_TRACE(c.what);
    // Embeddings large enough that the logits spread: a flat softmax would hide differences.
    const TensorProvider base = RandomWeights(21);
    const TensorProvider weights = [&](const TensorSpec& s) -> StatusOr<std::vector<float>> {
      std::vector<float> v = base(s).value();
      if (s.role == TensorRole::kEmbedding || s.role == TensorRole::kHead) {
        for (float& x : v) x *= 8.0f;
      }
      return v;
    };
    ModelOptions options;
    options.threads = 2;
    auto model = LlamaModel::Create(c.config, weights, options);
    ASSERT_TRUE(model.ok()) << model.status().ToString();
    auto reference = ReferenceDecoder::Create(c.config, weights);
    ASSERT_TRUE(reference.ok()) << reference.status().ToString();
    const int64_t context = static_cast<int64_t>(kTokens.size());
    std::vector<const int32_t*> starts;
    for (const auto& w : windows) starts.push_back(w.data());
    std::vector<std::vector<double>> nll;
    ASSERT_TRUE((*model)->ScoreWindows(starts, context, &nll).ok());
    ASSERT_EQ(nll.size(), windows.size());
    double spread = 0;
    for (size_t w = 0; w < windows.size(); ++w) {
      const std::vector<double> expected = reference->WindowNll(windows[w].data(), context);
      ASSERT_EQ(nll[w].size(), expected.size());
      for (size_t j = 0; j < expected.size(); ++j) {
        EXPECT_NEAR(nll[w][j], expected[j], 1e-4 * std::max(1.0, std::fabs(expected[j])))
            << "window " << w << " position " << j + 1;
        spread = std::max(spread, std::fabs(expected[j] - expected[0]));
      }
    }
    EXPECT_GT(spread, 0.1) << "the NLLs hardly vary: the comparison would prove little";
  }
}

// Changing a token changes the NLL of later positions only: no position sees the future.
TEST(LlamaModel, CausalMaskHidesLaterTokens) {
  auto model = LlamaModel::Create(TinyConfig(), RandomWeights(17), ModelOptions());
  ASSERT_TRUE(model.ok());
  std::vector<int32_t> a = kTokens, b = kTokens;
  const size_t changed = 6;
  b[changed] = (b[changed] + 5) % 13;
  std::vector<std::vector<double>> nll;
  ASSERT_TRUE((*model)->ScoreWindows({a.data(), b.data()}, static_cast<int64_t>(a.size()), &nll).ok());
  // nll[w][j - 1] is position j's: positions 1..changed-1 predict from tokens before `changed`.
  for (size_t j = 1; j < changed; ++j) EXPECT_NEAR(nll[0][j - 1], nll[1][j - 1], 1e-7) << "position " << j;
  // Position `changed` is the changed token itself; every later one conditions on it.
  for (size_t j = changed; j < a.size(); ++j) {
    EXPECT_GT(std::fabs(nll[0][j - 1] - nll[1][j - 1]), 1e-7) << "position " << j;
  }
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
