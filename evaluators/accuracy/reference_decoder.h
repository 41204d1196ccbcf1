// The forward pass of llama2.c's run.c: one token at a time with a KV cache, plain loops, one
// thread, float32. Two uses: the naive baseline the accuracy evaluator's tokens/s is measured
// against (bench/accuracy/naive_decode.cc), and an independent reference for the LibTorch model
// in tests — attention, RoPE (both pair layouts), grouped-query heads, SwiGLU and causality
// reach its logits by a different road (a token never sees a later one: there is no mask to get
// wrong). No LibTorch.
#pragma once

#include <cstdint>
#include <vector>

#include "common/status.h"
#include "evaluators/accuracy/checkpoint.h"

namespace qlab::accuracy {

class ReferenceDecoder {
 public:
  // Reads every tensor of `config` from `provider`. INVALID_ARGUMENT for a RoPE scaling other
  // than none (not implemented here) or a tensor of the wrong size; the provider's errors.
  static StatusOr<ReferenceDecoder> Create(const ModelConfig& config,
                                           const TensorProvider& provider);

  // -log p(tokens[j] | tokens[0..j)) for j = 1..context-1, as LlamaModel::ScoreWindows gives
  // one window. REQUIRES: 2 <= context, every id in [0, vocab_size).
  std::vector<double> WindowNll(const int32_t* tokens, int64_t context) const;

  const ModelConfig& config() const { return config_; }

 private:
  struct Layer {
    std::vector<float> attn_norm, wq, wk, wv, wo, mlp_norm, w_gate, w_up, w_down;
  };
  ModelConfig config_;
  std::vector<float> embedding_, final_norm_, head_;
  std::vector<Layer> layers_;
};

}  // namespace qlab::accuracy
