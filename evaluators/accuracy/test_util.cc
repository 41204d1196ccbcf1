// Test helpers (see test_util.h).
#include "evaluators/accuracy/test_util.h"

#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <random>

namespace qlab::accuracy::testing {
namespace {

uint16_t FloatToHalfBits(float f) {
  // IEEE half, round to nearest even; values used in tests are normal and in range.
  uint32_t x;
  std::memcpy(&x, &f, 4);
  const uint32_t sign = (x >> 16) & 0x8000;
  int32_t exp = static_cast<int32_t>((x >> 23) & 0xff) - 127 + 15;
  uint32_t mant = x & 0x7fffff;
  if (exp <= 0) {  // subnormal or zero
    if (exp < -10) return static_cast<uint16_t>(sign);
    mant |= 0x800000;
    const int shift = 14 - exp;
    uint32_t half = mant >> shift;
    const uint32_t rem = mant & ((1u << shift) - 1);
    const uint32_t mid = 1u << (shift - 1);
    if (rem > mid || (rem == mid && (half & 1))) ++half;
    return static_cast<uint16_t>(sign | half);
  }
  uint32_t half = (static_cast<uint32_t>(exp) << 10) | (mant >> 13);
  const uint32_t rem = mant & 0x1fff;
  if (rem > 0x1000 || (rem == 0x1000 && (half & 1))) ++half;
  return static_cast<uint16_t>(sign | half);
}

uint16_t FloatToBf16Bits(float f) {
  uint32_t x;
  std::memcpy(&x, &f, 4);
  const uint32_t rounding = 0x7fff + ((x >> 16) & 1);
  return static_cast<uint16_t>((x + rounding) >> 16);
}

}  // namespace

std::string MakeTempDir() {
  static std::vector<std::string>* const dirs = [] {
    std::atexit([] {
      for (const std::string& d : *dirs) std::filesystem::remove_all(d);
    });
    return new std::vector<std::string>();
  }();
  const char* base = std::getenv("TMPDIR");
  std::string templ = std::string(base && *base ? base : "/tmp") + "/qlab_accuracy_XXXXXX";
  if (::mkdtemp(templ.data()) == nullptr) std::abort();
  dirs->push_back(templ);
  return templ;
}

std::vector<float> RandomValues(int64_t n, uint64_t seed, float scale) {
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<float> dist(-scale, scale);
  std::vector<float> v(static_cast<size_t>(n));
  for (float& x : v) x = dist(rng);
  return v;
}

TensorProvider RandomWeights(uint64_t seed) {
  return [seed](const TensorSpec& spec) -> StatusOr<std::vector<float>> {
    const uint64_t s = seed * 1000003u + std::hash<std::string>{}(spec.name);
    std::vector<float> v = RandomValues(spec.NumElements(), s, 0.25f);
    if (spec.role == TensorRole::kNorm) {
      for (float& x : v) x = 1.0f + x;
    } else if (spec.role == TensorRole::kEmbedding || spec.role == TensorRole::kHead) {
      for (float& x : v) x *= 4.0f;
    }
    return v;
  };
}

float RoundToBf16(float x) {
  const uint32_t bits = static_cast<uint32_t>(FloatToBf16Bits(x)) << 16;
  float out;
  std::memcpy(&out, &bits, 4);
  return out;
}

void WriteSafetensors(const std::string& path, const std::vector<TestTensor>& tensors) {
  nlohmann::json header = nlohmann::json::object();
  std::string data;
  for (const TestTensor& t : tensors) {
    const size_t begin = data.size();
    for (float v : t.values) {
      if (t.dtype == "F32") {
        data.append(reinterpret_cast<const char*>(&v), 4);
      } else if (t.dtype == "I32") {
        const int32_t i = static_cast<int32_t>(v);
        data.append(reinterpret_cast<const char*>(&i), 4);
      } else {
        const uint16_t h = t.dtype == "F16" ? FloatToHalfBits(v) : FloatToBf16Bits(v);
        data.append(reinterpret_cast<const char*>(&h), 2);
      }
    }
    header[t.name] = {
        {"dtype", t.dtype}, {"shape", t.shape}, {"data_offsets", {begin, data.size()}}};
  }
  header["__metadata__"] = {{"format", "pt"}};
  std::string text = header.dump();
  while (text.size() % 8 != 0) text += ' ';
  const uint64_t len = text.size();
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(reinterpret_cast<const char*>(&len), 8);
  out << text << data;
}

std::string HfConfigJson(const ModelConfig& c, const std::string& architecture) {
  nlohmann::json j = {{"architectures", {architecture}},
                      {"model_type", "llama"},
                      {"hidden_size", c.dim},
                      {"intermediate_size", c.hidden_dim},
                      {"num_hidden_layers", c.n_layers},
                      {"num_attention_heads", c.n_heads},
                      {"num_key_value_heads", c.n_kv_heads},
                      {"vocab_size", c.vocab_size},
                      {"max_position_embeddings", c.max_seq_len},
                      {"rms_norm_eps", c.norm_eps},
                      {"rope_theta", c.rope_theta},
                      {"hidden_act", "silu"},
                      {"tie_word_embeddings", c.shared_classifier},
                      {"torch_dtype", "float32"},
                      {"rope_scaling", nullptr}};
  return j.dump(2);
}

void WriteFile(const std::string& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << bytes;
}

std::vector<float> PermuteForHf(const std::vector<float>& w, int64_t heads, int64_t head_dim,
                                int64_t cols) {
  std::vector<float> out(w.size());
  for (int64_t h = 0; h < heads; ++h) {
    for (int64_t i = 0; i < head_dim / 2; ++i) {
      for (int j = 0; j < 2; ++j) {
        const int64_t src = h * head_dim + 2 * i + j;
        const int64_t dst = h * head_dim + j * (head_dim / 2) + i;
        std::copy(w.begin() + src * cols, w.begin() + (src + 1) * cols, out.begin() + dst * cols);
      }
    }
  }
  return out;
}

}  // namespace qlab::accuracy::testing
