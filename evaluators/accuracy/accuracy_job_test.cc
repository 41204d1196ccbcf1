// RunAccuracyJob end to end on small models written by the test (and, when present, the model
// qlab ships), and the errors a user meets.
#include "evaluators/accuracy/accuracy_job.h"

#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <map>

#include "evaluators/accuracy/checkpoint.h"
#include "evaluators/accuracy/reference_cache.h"
#include "evaluators/accuracy/test_util.h"
#include "evaluators/accuracy/tokenizer.h"
#include "evaluators/datatypes/registry.h"

namespace qlab::accuracy {
namespace {

using nlohmann::json;

const std::string kShipped = std::string(QLAB_SOURCE_DIR) + "/models/kjv";

struct Fixture {
  std::string dir, model, tokens;
};

// A random dim-64 model (every projection 64 or 96 wide) and 300 random tokens.
Fixture MakeFixture() {
  Fixture f;
  f.dir = testing::MakeTempDir();
  f.model = f.dir + "/model.bin";
  f.tokens = f.dir + "/eval.tok";
  const ModelConfig c = Llama2cConfig(64, 96, 2, 4, 4, 50, 32, true);
  // Small embeddings keep the random model's logits moderate (perplexity near the vocabulary
  // size), as in a trained model.
  const TensorProvider random = testing::RandomWeights(21);
  EXPECT_TRUE(WriteLlama2cCheckpoint(f.model, c, [&](const TensorSpec& s) {
                auto v = random(s);
                if (s.role == TensorRole::kEmbedding) {
                  for (float& x : *v) x *= 0.25f;
                }
                return v;
              }).ok());
  std::vector<int32_t> tokens;
  for (int i = 0; i < 300; ++i) tokens.push_back((i * 7 + i / 3) % 50);
  EXPECT_TRUE(WriteTokenFile(f.tokens, tokens).ok());
  return f;
}

std::map<std::string, double> Metrics(const JobOutput& out) {
  std::map<std::string, double> m;
  for (const Metric& metric : out.metrics) m[metric.name] = metric.value;
  return m;
}

TEST(AccuracyJob, QuantizedAndReferencePerplexity) {
  const Fixture f = MakeFixture();
  JobContext ctx;
  json params = {{"model", f.model},
                 {"tokens", f.tokens},
                 {"datatype", "int4_asym"},
                 {"group_size", 32},
                 {"threads", 1}};
  auto out = RunAccuracyJob(params, ctx);
  ASSERT_TRUE(out.ok()) << out.status().ToString();
  auto m = Metrics(*out);
  EXPECT_TRUE(std::isfinite(m["perplexity"]));
  EXPECT_GT(m["perplexity_ref"], 1.0);
  EXPECT_NE(m["perplexity"], m["perplexity_ref"]);  // 4-bit weights change the model
  EXPECT_GT(m["tokens_per_s"], 0);
  EXPECT_DOUBLE_EQ(
      m["bits_per_weight"],
      datatypes::BitsPerWeight(datatypes::GetTraits(datatypes::Datatype::kInt4Asym), 32));
  // 2 layers x (4 x 64x64 + 3 x 64x96)
  EXPECT_EQ(m["num_quantized_weights"], 2 * (4 * 64 * 64 + 3 * 64 * 96));
  EXPECT_EQ(m["context"], 32);
  // Positions 1..299, less the first token of full windows 2..9; the tail window [268, 300)
  // scores only 288..299.
  EXPECT_EQ(m["scored_tokens"], 299 - 8);
  EXPECT_GT(m["weight_sqnr_db"], 10);
  EXPECT_NEAR(m["nll_increase"], std::log(m["perplexity"] / m["perplexity_ref"]), 1e-9);
  EXPECT_DOUBLE_EQ(ctx.progress(), 1.0);

  // An 8-bit datatype barely moves the perplexity; the reference is the same in every job,
  // computed once: the second job finds it.
  params["datatype"] = "int8_sym";
  const int64_t hits_before = ReferenceCache::Global().hits();
  auto out8 = RunAccuracyJob(params, ctx);
  EXPECT_EQ(ReferenceCache::Global().hits(), hits_before + 1);
  ASSERT_TRUE(out8.ok()) << out8.status().ToString();
  auto m8 = Metrics(*out8);
  EXPECT_EQ(m8["perplexity_ref"], m["perplexity_ref"]);
  EXPECT_NEAR(m8["perplexity"], m8["perplexity_ref"], 0.01 * m8["perplexity_ref"]);
  EXPECT_LT(std::fabs(m8["perplexity"] - m8["perplexity_ref"]),
            std::fabs(m["perplexity"] - m["perplexity_ref"]));

  // quantize_head also quantizes the (shared) embedding: more weights.
  params["quantize_head"] = true;
  auto head = RunAccuracyJob(params, ctx);
  ASSERT_TRUE(head.ok()) << head.status().ToString();
  EXPECT_EQ(Metrics(*head)["num_quantized_weights"], m["num_quantized_weights"] + 50 * 64);
}

// Per-tensor datatypes: each block linear in its own format, storage metrics weighted by size.
TEST(AccuracyJob, PerTensorDatatypes) {
  const Fixture f = MakeFixture();
  JobContext ctx;
  json params = {{"model", f.model},
                 {"tokens", f.tokens},
                 {"datatype", {{"*", "int4_asym"}, {"*.mlp.*", "int8_asym"}, {"*.o_proj.weight", "keep"}}},
                 {"group_size", 32},
                 {"threads", 1}};
  auto out = RunAccuracyJob(params, ctx);
  ASSERT_TRUE(out.ok()) << out.status().ToString();
  auto m = Metrics(*out);
  // Per layer: q, k, v (int4, 64x64), o kept (64x64), gate, up, down (int8, 64x96 each).
  const double int4 =
      datatypes::BitsPerWeight(datatypes::GetTraits(datatypes::Datatype::kInt4Asym), 32);
  const double int8 =
      datatypes::BitsPerWeight(datatypes::GetTraits(datatypes::Datatype::kInt8Asym), 32);
  const double n4 = 2 * 3 * 64 * 64, nkeep = 2 * 64 * 64, n8 = 2 * 3 * 64 * 96;
  EXPECT_NEAR(m["bits_per_weight"], (int4 * n4 + 32 * nkeep + int8 * n8) / (n4 + nkeep + n8),
              1e-9);
  EXPECT_NEAR(m["weight_bytes"], (int4 * n4 + 32 * nkeep + int8 * n8) / 8, 1e-6);
  EXPECT_EQ(m["num_quantized_weights"], n4 + n8);
  EXPECT_GT(m["hw_cost"], 0);

  // The mixed job lands between its two uniform neighbours.
  params["datatype"] = "int4_asym";
  auto m4 = Metrics(*RunAccuracyJob(params, ctx));
  params["datatype"] = "int8_asym";
  auto m8 = Metrics(*RunAccuracyJob(params, ctx));
  EXPECT_EQ(m["perplexity_ref"], m4["perplexity_ref"]);
  EXPECT_LT(std::fabs(m["perplexity"] - m["perplexity_ref"]),
            std::fabs(m4["perplexity"] - m4["perplexity_ref"]));
  EXPECT_LT(m4["bits_per_weight"], m["bits_per_weight"]);
  EXPECT_GT(m["hw_cost"], m4["hw_cost"]);

  // Everything kept reproduces the reference exactly.
  params["datatype"] = "fp32";
  auto kept = Metrics(*RunAccuracyJob(params, ctx));
  EXPECT_EQ(kept["perplexity"], kept["perplexity_ref"]);
  EXPECT_EQ(kept["bits_per_weight"], 32);
  EXPECT_EQ(kept["zero_weight_error"], 1);

  // A map that leaves a block linear without a format fails the job, naming the tensor.
  params["datatype"] = {{"*.mlp.*", "int8_asym"}};
  auto unmatched = RunAccuracyJob(params, ctx);
  EXPECT_EQ(unmatched.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(unmatched.status().message().find("self_attn.q_proj"), std::string::npos)
      << unmatched.status().ToString();
}

// A different context, or a rewritten model file, is a different reference.
TEST(AccuracyJob, ReferenceIsReusedOnlyForTheSameModelAndWindows) {
  const Fixture f = MakeFixture();
  JobContext ctx;
  json params = {{"model", f.model}, {"tokens", f.tokens}, {"datatype", "int4_asym"},
                 {"group_size", 32}, {"threads", 1}};
  ASSERT_TRUE(RunAccuracyJob(params, ctx).ok());
  int64_t hits = ReferenceCache::Global().hits();
  params["context"] = 16;
  auto shorter = RunAccuracyJob(params, ctx);
  ASSERT_TRUE(shorter.ok()) << shorter.status().ToString();
  EXPECT_EQ(ReferenceCache::Global().hits(), hits);
  ASSERT_TRUE(RunAccuracyJob(params, ctx).ok());
  EXPECT_EQ(ReferenceCache::Global().hits(), hits + 1);

  // Same path, other weights: the reference is measured again and differs.
  const ModelConfig c = Llama2cConfig(64, 96, 2, 4, 4, 50, 32, true);
  ASSERT_TRUE(WriteLlama2cCheckpoint(f.model, c, testing::RandomWeights(99)).ok());
  hits = ReferenceCache::Global().hits();
  auto rewritten = RunAccuracyJob(params, ctx);
  ASSERT_TRUE(rewritten.ok()) << rewritten.status().ToString();
  EXPECT_EQ(ReferenceCache::Global().hits(), hits);
  EXPECT_NE(Metrics(*rewritten)["perplexity_ref"], Metrics(*shorter)["perplexity_ref"]);
}

// With a directory, the reference outlives the process's memory (a restarted worker, or one
// process per job): a fresh memory finds it on disk; a damaged or foreign file is ignored.
TEST(AccuracyJob, ReferenceIsKeptOnDiskWhenADirectoryIsSet) {
  const Fixture f = MakeFixture();
  const std::string dir = testing::MakeTempDir() + "/cache";
  ReferenceCache& cache = ReferenceCache::Global();
  cache.SetDirectory(dir);
  JobContext ctx;
  const json params = {{"model", f.model}, {"tokens", f.tokens}, {"datatype", "int4_asym"},
                       {"group_size", 32}, {"threads", 1}, {"context", 24}};
  auto first = RunAccuracyJob(params, ctx);
  ASSERT_TRUE(first.ok()) << first.status().ToString();
  std::vector<std::string> files;
  for (const auto& e : std::filesystem::directory_iterator(dir)) files.push_back(e.path().string());
  ASSERT_EQ(files.size(), 1u);

  cache.ClearMemory();
  int64_t hits = cache.hits();
  auto second = RunAccuracyJob(params, ctx);
  ASSERT_TRUE(second.ok());
  EXPECT_EQ(cache.hits(), hits + 1);
  EXPECT_EQ(Metrics(*second)["perplexity_ref"], Metrics(*first)["perplexity_ref"]);
  EXPECT_EQ(Metrics(*second)["nll_increase"], Metrics(*first)["nll_increase"]);

  // A truncated file, a key that is not a string, and a file naming another key are measured
  // again (and rewritten).
  for (const std::string& damage : {std::string("{\"key\": "), std::string("{\"key\": 5}"), std::string(
           "{\"key\": \"other\", \"perplexity\": 1, \"mean_nll\": 0, \"scored_positions\": 1, "
           "\"seconds\": 0, \"tokens_per_s\": 1, \"window_nll\": [0]}")}) {
    testing::WriteFile(files[0], damage);
    cache.ClearMemory();
    hits = cache.hits();
    auto again = RunAccuracyJob(params, ctx);
    ASSERT_TRUE(again.ok());
    EXPECT_EQ(cache.hits(), hits) << damage;
    EXPECT_EQ(Metrics(*again)["perplexity_ref"], Metrics(*first)["perplexity_ref"]);
  }
  cache.SetDirectory("");
}

TEST(AccuracyJob, ErrorsNameTheProblem) {
  const Fixture f = MakeFixture();
  JobContext ctx;
  const json base = {{"model", f.model},
                     {"tokens", f.tokens},
                     {"datatype", "int4_asym"},
                     {"group_size", 32},
                     {"threads", 1}};
  auto run = [&](json p) { return RunAccuracyJob(p, ctx).status(); };

  json p = base;
  p.erase("group_size");  // int4_asym's default, 128, exceeds the model's 64- and 96-wide rows
  Status s = run(p);
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(s.message().find("model.layers.0.self_attn.q_proj.weight"), std::string::npos)
      << s.message();

  p = base;
  p["model"] = f.dir + "/absent.bin";
  EXPECT_EQ(run(p).code(), StatusCode::kNotFound);

  p = base;
  p["tokens"] = f.dir + "/absent.tok";
  EXPECT_EQ(run(p).code(), StatusCode::kNotFound);

  std::vector<int32_t> out_of_vocab(100, 3);
  out_of_vocab[40] = 50;
  ASSERT_TRUE(WriteTokenFile(f.dir + "/oov.tok", out_of_vocab).ok());
  p = base;
  p["tokens"] = f.dir + "/oov.tok";
  s = run(p);
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(s.message().find("token 40"), std::string::npos) << s.message();

  ASSERT_TRUE(WriteTokenFile(f.dir + "/short.tok", std::vector<int32_t>(20, 1)).ok());
  p = base;
  p["tokens"] = f.dir + "/short.tok";
  s = run(p);
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(s.message().find("shorter than one window"), std::string::npos) << s.message();

  p = base;
  p["context"] = 64;  // the model was trained for 32
  EXPECT_EQ(run(p).code(), StatusCode::kInvalidArgument);

  p = base;
  p["datatype"] = "no_such_type";
  EXPECT_EQ(run(p).code(), StatusCode::kInvalidArgument);

  if (std::filesystem::exists(kShipped + "/tokenizer.model")) {
    // A 1,024-piece tokenizer cannot belong to a 50-token model.
    testing::WriteFile(f.dir + "/text.txt", "In the beginning\n");
    p = base;
    p.erase("tokens");
    p["text"] = f.dir + "/text.txt";
    p["tokenizer"] = kShipped + "/tokenizer.model";
    s = run(p);
    EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
    EXPECT_NE(s.message().find("1024 pieces"), std::string::npos) << s.message();
  }

  JobContext cancelled;
  cancelled.Cancel();
  EXPECT_EQ(RunAccuracyJob(base, cancelled).status().code(), StatusCode::kCancelled);
}

// The shipped model on the first 1,024 held-out tokens, from text and from the token file.
TEST(AccuracyJob, ShippedModelTextAndTokensAgree) {
  if (!std::filesystem::exists(kShipped + "/model.bin")) GTEST_SKIP() << "no shipped model";
  JobContext ctx;
  json p = {{"model", kShipped + "/model.bin"},
            {"tokens", kShipped + "/heldout.tok"},
            {"datatype", "nf4"},
            {"group_size", 128},
            {"max_tokens", 1024},
            {"threads", 1}};
  auto from_tokens = RunAccuracyJob(p, ctx);
  ASSERT_TRUE(from_tokens.ok()) << from_tokens.status().ToString();
  p.erase("tokens");
  p["text"] = kShipped + "/heldout.txt";
  p["tokenizer"] = kShipped + "/tokenizer.model";
  auto from_text = RunAccuracyJob(p, ctx);
  ASSERT_TRUE(from_text.ok()) << from_text.status().ToString();
  auto a = Metrics(*from_tokens), b = Metrics(*from_text);
  EXPECT_EQ(a["perplexity_ref"], b["perplexity_ref"]);
  EXPECT_EQ(a["perplexity"], b["perplexity"]);
  EXPECT_LT(a["perplexity_ref"], 100);  // far below the 1,024-token vocabulary
  EXPECT_LT(a["perplexity"], 1.5 * a["perplexity_ref"]);
}

}  // namespace
}  // namespace qlab::accuracy
