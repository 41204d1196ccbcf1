// Test helpers of the accuracy evaluator: temporary folders, deterministic random weights,
// and writers for the files the loaders read (safetensors, Hugging Face config.json).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "evaluators/accuracy/checkpoint.h"

namespace qlab::accuracy::testing {

// A fresh empty directory under $TMPDIR (or /tmp); removed at process exit.
std::string MakeTempDir();

// n values uniform in [-scale, scale), fixed by seed.
std::vector<float> RandomValues(int64_t n, uint64_t seed, float scale);

// Deterministic random weights for any spec: norms near 1, the rest small. The same
// (spec.name, seed) always gives the same values.
TensorProvider RandomWeights(uint64_t seed);

// Rounds to the nearest bfloat16 (ties to even) and back.
float RoundToBf16(float x);

struct TestTensor {
  std::string name;
  std::string dtype;  // "F32", "F16", "BF16" (values converted, RNE) or "I32" (cast)
  std::vector<int64_t> shape;
  std::vector<float> values;
};

// Writes a .safetensors file.
void WriteSafetensors(const std::string& path, const std::vector<TestTensor>& tensors);

// config.json of a LlamaForCausalLM with `config`'s sizes.
std::string HfConfigJson(const ModelConfig& config,
                         const std::string& architecture = "LlamaForCausalLM");

void WriteFile(const std::string& path, const std::string& bytes);

// Hugging Face's row order of a q/k projection from Meta's interleaved one (the permutation of
// transformers' convert_llama_weights_to_hf.py): within each head, rows 0,2,4,... then 1,3,5,...
std::vector<float> PermuteForHf(const std::vector<float>& w, int64_t heads, int64_t head_dim,
                                int64_t cols);

}  // namespace qlab::accuracy::testing
