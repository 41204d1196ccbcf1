// Checkpoint readers: llama2.c files written by hand and by the writer, Hugging Face folders
// (F32, BF16, sharded), and the errors that name bad tensors, sizes and architectures.
#include "evaluators/accuracy/checkpoint.h"

#include <gtest/gtest.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "evaluators/accuracy/test_util.h"

namespace qlab::accuracy {
namespace {

using testing::HfConfigJson;
using testing::MakeTempDir;
using testing::RandomWeights;
using testing::TestTensor;
using testing::WriteFile;
using testing::WriteSafetensors;

ModelConfig SmallConfig(bool shared) {
  return Llama2cConfig(/*dim=*/16, /*hidden_dim=*/24, /*n_layers=*/2, /*n_heads=*/4,
                       /*n_kv_heads=*/2, /*vocab_size=*/11, /*max_seq_len=*/8, shared);
}

std::vector<float> Read(const Checkpoint& c, const std::string& name) {
  for (const TensorSpec& s : RequiredTensors(c.config())) {
    if (s.name == name) return c.ReadTensor(s).value();
  }
  ADD_FAILURE() << "no tensor " << name;
  return {};
}

TEST(RequiredTensors, LlamaNamesAndShapes) {
  const ModelConfig c = SmallConfig(/*shared=*/false);
  const std::vector<TensorSpec> specs = RequiredTensors(c);
  // embedding + 9 per layer + final norm + head
  ASSERT_EQ(specs.size(), 1u + 9u * 2u + 1u + 1u);
  EXPECT_EQ(specs.front().name, "model.embed_tokens.weight");
  EXPECT_EQ(specs.back().name, "lm_head.weight");
  for (const TensorSpec& s : specs) {
    if (s.name == "model.layers.1.self_attn.k_proj.weight") {
      EXPECT_EQ(s.shape, (std::vector<int64_t>{8, 16}));  // kv_heads * head_dim, dim
      EXPECT_EQ(s.role, TensorRole::kBlockLinear);
    }
    if (s.name == "model.layers.0.mlp.down_proj.weight") {
      EXPECT_EQ(s.shape, (std::vector<int64_t>{16, 24}));
    }
  }
  EXPECT_EQ(RequiredTensors(SmallConfig(true)).size(), specs.size() - 1);
}

// A llama2.c file assembled here byte by byte in run.c's documented order, not by the writer.
TEST(Llama2c, HandWrittenFileLoadsInRunCOrder) {
  const int32_t dim = 4, hidden = 6, layers = 2, heads = 2, kv_heads = 1, vocab = 5, seq = 3;
  const int32_t head = dim / heads, kv_dim = dim * kv_heads / heads;
  const int32_t header[7] = {dim, hidden, layers, heads, kv_heads, -vocab, seq};  // unshared
  std::vector<float> floats;
  // Each array filled with (array index * 1000 + element index) so every value says where it
  // came from.
  const int64_t sizes[] = {vocab * dim,
                           layers * dim,
                           layers * dim * dim,
                           layers * kv_dim * dim,
                           layers * kv_dim * dim,
                           layers * dim * dim,
                           layers * dim,
                           layers * hidden * dim,
                           layers * dim * hidden,
                           layers * hidden * dim,
                           dim,
                           seq * head / 2,
                           seq * head / 2,
                           vocab * dim};
  for (int a = 0; a < 14; ++a) {
    for (int64_t i = 0; i < sizes[a]; ++i) floats.push_back(static_cast<float>(a * 1000 + i));
  }
  const std::string path = MakeTempDir() + "/hand.bin";
  {
    std::ofstream out(path, std::ios::binary);
    out.write(reinterpret_cast<const char*>(header), sizeof(header));
    out.write(reinterpret_cast<const char*>(floats.data()),
              static_cast<std::streamsize>(floats.size() * 4));
  }
  auto ckpt = Checkpoint::Open(path);
  ASSERT_TRUE(ckpt.ok()) << ckpt.status().ToString();
  const ModelConfig& c = (*ckpt)->config();
  EXPECT_STREQ((*ckpt)->format(), "llama2c");
  EXPECT_EQ(c.dim, dim);
  EXPECT_EQ(c.n_kv_heads, kv_heads);
  EXPECT_EQ(c.vocab_size, vocab);
  EXPECT_FALSE(c.shared_classifier);
  EXPECT_TRUE(c.rope_interleaved);

  EXPECT_EQ(Read(**ckpt, "model.embed_tokens.weight")[3], 3.0f);
  EXPECT_EQ(Read(**ckpt, "model.layers.1.input_layernorm.weight")[0], 1000.0f + dim);
  EXPECT_EQ(Read(**ckpt, "model.layers.1.self_attn.q_proj.weight")[0], 2000.0f + dim * dim);
  EXPECT_EQ(Read(**ckpt, "model.layers.0.self_attn.k_proj.weight")[1], 3001.0f);
  EXPECT_EQ(Read(**ckpt, "model.layers.1.self_attn.v_proj.weight")[0], 4000.0f + kv_dim * dim);
  EXPECT_EQ(Read(**ckpt, "model.layers.0.self_attn.o_proj.weight")[0], 5000.0f);
  EXPECT_EQ(Read(**ckpt, "model.layers.1.post_attention_layernorm.weight")[0], 6000.0f + dim);
  EXPECT_EQ(Read(**ckpt, "model.layers.0.mlp.gate_proj.weight")[5], 7005.0f);  // w1
  EXPECT_EQ(Read(**ckpt, "model.layers.1.mlp.down_proj.weight")[0], 8000.0f + dim * hidden);
  EXPECT_EQ(Read(**ckpt, "model.layers.0.mlp.up_proj.weight")[0], 9000.0f);  // w3
  EXPECT_EQ(Read(**ckpt, "model.norm.weight")[2], 10002.0f);
  EXPECT_EQ(Read(**ckpt, "lm_head.weight")[0], 13000.0f);  // after the two RoPE tables
}

TEST(Llama2c, WriterRoundTripSharedAndUnshared) {
  for (bool shared : {true, false}) {
    const ModelConfig c = SmallConfig(shared);
    const std::string path = MakeTempDir() + "/model.bin";
    const TensorProvider weights = RandomWeights(7);
    ASSERT_TRUE(WriteLlama2cCheckpoint(path, c, weights).ok());
    auto ckpt = Checkpoint::Open(path);
    ASSERT_TRUE(ckpt.ok()) << ckpt.status().ToString();
    EXPECT_EQ((*ckpt)->config().shared_classifier, shared);
    EXPECT_EQ((*ckpt)->config().max_seq_len, 8);
    for (const TensorSpec& s : RequiredTensors(c)) {
      EXPECT_EQ((*ckpt)->ReadTensor(s).value(), weights(s).value()) << s.name;
    }
  }
}

TEST(Llama2c, BadFilesNameTheProblem) {
  const std::string dir = MakeTempDir();
  const ModelConfig c = SmallConfig(true);
  ASSERT_TRUE(WriteLlama2cCheckpoint(dir + "/m.bin", c, RandomWeights(1)).ok());
  std::string bytes;
  {
    std::ifstream in(dir + "/m.bin", std::ios::binary);
    bytes.assign(std::istreambuf_iterator<char>(in), {});
  }
  WriteFile(dir + "/truncated.bin", bytes.substr(0, bytes.size() - 100));
  auto truncated = Checkpoint::Open(dir + "/truncated.bin");
  EXPECT_EQ(truncated.status().code(), StatusCode::kDataLoss);
  EXPECT_NE(truncated.status().message().find("implies"), std::string::npos)
      << truncated.status().message();

  std::string versioned = bytes;
  const int32_t magic = 0x616b3432, version = 2;
  std::memcpy(versioned.data(), &magic, 4);
  std::memcpy(versioned.data() + 4, &version, 4);
  WriteFile(dir + "/v2.bin", versioned);
  EXPECT_EQ(Checkpoint::Open(dir + "/v2.bin").status().code(), StatusCode::kUnimplemented);

  WriteFile(dir + "/text.bin", "this is not a checkpoint at all, just some text");
  EXPECT_EQ(Checkpoint::Open(dir + "/text.bin").status().code(), StatusCode::kDataLoss);
  EXPECT_EQ(Checkpoint::Open(dir + "/absent.bin").status().code(), StatusCode::kNotFound);
}

TEST(Llama2c, HeaderClaimingMillionsOfLayersIsRefusedBeforeListingThem) {
  // Found by tests/fuzz (llama2c): a 32-byte file whose header claims 524,292 layers made Open
  // list 4.7 million tensors (seconds and a gigabyte) before comparing sizes.
  const std::string dir = MakeTempDir();
  const int32_t header[8] = {128, 384, 0x80004, 4, 4, 14, 1024, 256};
  WriteFile(dir + "/layers.bin",
            std::string(reinterpret_cast<const char*>(header), sizeof(header)));
  auto layers = Checkpoint::Open(dir + "/layers.bin");
  EXPECT_EQ(layers.status().code(), StatusCode::kDataLoss);
  EXPECT_NE(layers.status().message().find("524292 layers"), std::string::npos)
      << layers.status().message();
  EXPECT_NE(layers.status().message().find("bytes per layer"), std::string::npos);
}

// Writes `c`'s tensors from `weights` as a Hugging Face folder; tensors are split over
// `shards` files listed in model.safetensors.index.json when shards > 1.
std::string WriteHfFolder(const ModelConfig& c, const TensorProvider& weights,
                          const std::string& dtype, int shards) {
  const std::string dir = MakeTempDir();
  WriteFile(dir + "/config.json", HfConfigJson(c));
  std::vector<std::vector<TestTensor>> files(static_cast<size_t>(shards));
  nlohmann::json index = {{"metadata", {{"total_size", 0}}},
                          {"weight_map", nlohmann::json::object()}};
  int i = 0;
  for (const TensorSpec& s : RequiredTensors(c)) {
    const int shard = i++ % shards;
    files[static_cast<size_t>(shard)].push_back({s.name, dtype, s.shape, weights(s).value()});
    index["weight_map"][s.name] = "model-0000" + std::to_string(shard + 1) + "-of-0000" +
                                  std::to_string(shards) + ".safetensors";
  }
  if (shards == 1) {
    WriteSafetensors(dir + "/model.safetensors", files[0]);
  } else {
    for (int s = 0; s < shards; ++s) {
      WriteSafetensors(dir + "/model-0000" + std::to_string(s + 1) + "-of-0000" +
                           std::to_string(shards) + ".safetensors",
                       files[static_cast<size_t>(s)]);
    }
    WriteFile(dir + "/model.safetensors.index.json", index.dump());
  }
  return dir;
}

ModelConfig SmallHfConfig(bool shared) {
  ModelConfig c = SmallConfig(shared);
  c.architecture = "LlamaForCausalLM";
  c.rope_interleaved = false;
  c.norm_eps = 1e-6;
  return c;
}

TEST(HuggingFace, F32SingleFile) {
  const ModelConfig c = SmallHfConfig(false);
  const TensorProvider weights = RandomWeights(3);
  auto ckpt = Checkpoint::Open(WriteHfFolder(c, weights, "F32", 1));
  ASSERT_TRUE(ckpt.ok()) << ckpt.status().ToString();
  EXPECT_STREQ((*ckpt)->format(), "huggingface");
  EXPECT_FALSE((*ckpt)->config().rope_interleaved);
  EXPECT_EQ((*ckpt)->config().n_kv_heads, 2);
  EXPECT_DOUBLE_EQ((*ckpt)->config().norm_eps, 1e-6);
  for (const TensorSpec& s : RequiredTensors(c)) {
    EXPECT_EQ((*ckpt)->ReadTensor(s).value(), weights(s).value()) << s.name;
  }
}

TEST(HuggingFace, Bf16Sharded) {
  const ModelConfig c = SmallHfConfig(true);
  const TensorProvider weights = RandomWeights(5);
  auto ckpt = Checkpoint::Open(WriteHfFolder(c, weights, "BF16", 3));
  ASSERT_TRUE(ckpt.ok()) << ckpt.status().ToString();
  for (const TensorSpec& s : RequiredTensors(c)) {
    std::vector<float> expected = weights(s).value();
    for (float& x : expected) x = testing::RoundToBf16(x);
    EXPECT_EQ((*ckpt)->ReadTensor(s).value(), expected) << s.name;
  }
}

TEST(HuggingFace, MissingTensorIsNamed) {
  const ModelConfig c = SmallHfConfig(false);
  const std::string dir = MakeTempDir();
  WriteFile(dir + "/config.json", HfConfigJson(c));
  std::vector<TestTensor> tensors;
  for (const TensorSpec& s : RequiredTensors(c)) {
    if (s.name == "model.layers.1.mlp.up_proj.weight") continue;
    tensors.push_back({s.name, "F32", s.shape, RandomWeights(1)(s).value()});
  }
  WriteSafetensors(dir + "/model.safetensors", tensors);
  auto ckpt = Checkpoint::Open(dir);
  EXPECT_EQ(ckpt.status().code(), StatusCode::kNotFound);
  EXPECT_NE(ckpt.status().message().find("model.layers.1.mlp.up_proj.weight"), std::string::npos)
      << ckpt.status().message();
}

TEST(HuggingFace, ShapeAndDtypeMismatchAreNamed) {
  const ModelConfig c = SmallHfConfig(true);
  for (const std::string& mode : {"shape", "dtype"}) {
    const std::string dir = MakeTempDir();
    WriteFile(dir + "/config.json", HfConfigJson(c));
    std::vector<TestTensor> tensors;
    for (const TensorSpec& s : RequiredTensors(c)) {
      TestTensor t{s.name, "F32", s.shape, RandomWeights(1)(s).value()};
      if (s.name == "model.layers.0.self_attn.v_proj.weight") {
        if (mode == "shape") {
          t.shape = {s.shape[1], s.shape[0]};
        } else {
          t.dtype = "I32";
        }
      }
      tensors.push_back(t);
    }
    WriteSafetensors(dir + "/model.safetensors", tensors);
    auto ckpt = Checkpoint::Open(dir);
    EXPECT_EQ(ckpt.status().code(), StatusCode::kInvalidArgument) << mode;
    EXPECT_NE(ckpt.status().message().find("model.layers.0.self_attn.v_proj.weight"),
              std::string::npos)
        << ckpt.status().message();
    EXPECT_NE(ckpt.status().message().find(mode == "shape" ? "[16, 8]" : "I32"), std::string::npos)
        << ckpt.status().message();
  }
}

TEST(HuggingFace, ConfigClaimingMillionsOfLayersIsRefusedByCount) {
  // Found with tests/fuzz (hf_config): num_hidden_layers 1,000,000 (valid up to 2^24) made the
  // tensor check list 9 million names, over 10 s; 2^24 layers are 151 million.
  const ModelConfig c = SmallHfConfig(true);
  const std::string dir = WriteHfFolder(c, RandomWeights(1), "F32", 1);
  ModelConfig huge = c;
  huge.n_layers = int64_t{1} << 24;
  WriteFile(dir + "/config.json", HfConfigJson(huge));
  auto ckpt = Checkpoint::Open(dir);
  EXPECT_EQ(ckpt.status().code(), StatusCode::kNotFound);
  EXPECT_NE(ckpt.status().message().find("implies 150994946"), std::string::npos)
      << ckpt.status().message();
}

TEST(HuggingFace, UnknownArchitectureAndMissingConfig) {
  const ModelConfig c = SmallHfConfig(true);
  const std::string dir = WriteHfFolder(c, RandomWeights(1), "F32", 1);
  WriteFile(dir + "/config.json", HfConfigJson(c, "GPT2LMHeadModel"));
  auto ckpt = Checkpoint::Open(dir);
  EXPECT_EQ(ckpt.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(ckpt.status().message().find("unknown architecture 'GPT2LMHeadModel'"),
            std::string::npos)
      << ckpt.status().message();

  std::filesystem::remove(dir + "/config.json");
  EXPECT_EQ(Checkpoint::Open(dir).status().code(), StatusCode::kNotFound);
  EXPECT_EQ(Checkpoint::Open(dir + "/model.safetensors").status().code(),
            StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace qlab::accuracy
