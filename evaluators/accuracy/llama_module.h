// INTERNAL: the LibTorch module behind LlamaModel, shared by llama_model.cc and lm_trainer.cc
// (the only two translation units that include LibTorch). Not part of the library's interface.
#pragma once

#include <torch/torch.h>

#include <map>
#include <string>
#include <vector>

#include "evaluators/accuracy/checkpoint.h"

namespace qlab::accuracy::internal {

// Weights are plain tensors keyed by their Hugging Face names (checkpoint.h), registered as
// parameters so that optimizers see them. Forward works for training (autograd) and inference.
class LlamaModule : public torch::nn::Module {
 public:
  // Allocates uninitialised weights of `config` with `tensor_options` (device, dtype).
  LlamaModule(const ModelConfig& config, const torch::TensorOptions& tensor_options);

  const ModelConfig& config() const { return config_; }
  const std::vector<TensorSpec>& specs() const { return specs_; }
  torch::Tensor& weight(const std::string& name) { return weights_.at(name); }

  // Random initialisation for training: N(0, 0.02) for embeddings and projections, scaled by
  // 1/sqrt(2 n_layers) for the projections that write into the residual stream (o_proj,
  // down_proj), ones for norms (GPT-2 / llama2.c recipe).
  void InitForTraining(uint64_t seed);

  // tokens: int64 [B, T] on the module's device, T <= rotary table length. Returns logits
  // [B, T, vocab] in the weights' dtype.
  torch::Tensor Forward(const torch::Tensor& tokens);

  // Positions the rotary tables cover (grown on demand by EnsureRope).
  int64_t rope_positions() const { return rope_cos_.defined() ? rope_cos_.size(0) : 0; }
  void EnsureRope(int64_t positions);

 private:
  torch::Tensor RmsNorm(const torch::Tensor& x, const torch::Tensor& w) const;
  torch::Tensor Rope(const torch::Tensor& x) const;  // x: [B, T, heads, head_dim]
  // q, k, v: [N, T, head_dim]; mask: [T, T] additive (0 / -inf). Returns [N, T, head_dim].
  torch::Tensor Attention(const torch::Tensor& q, const torch::Tensor& k, const torch::Tensor& v,
                          const torch::Tensor& mask, double scale) const;

  ModelConfig config_;
  std::vector<TensorSpec> specs_;
  std::map<std::string, torch::Tensor> weights_;
  torch::Tensor rope_cos_, rope_sin_;  // float32 [positions, head_dim / 2]
  torch::TensorOptions options_;
};

}  // namespace qlab::accuracy::internal
