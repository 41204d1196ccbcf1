// Trains a small Llama-style language model from scratch on a token stream (CPU or CUDA) and
// writes it as a llama2.c checkpoint. Used by `qlab-train-lm` to produce the model qlab ships
// (models/README.md); LibTorch stays inside lm_trainer.cc.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "common/status.h"
#include "evaluators/accuracy/checkpoint.h"

namespace qlab::accuracy {

struct TrainOptions {
  int64_t steps = 1000;             // optimizer steps
  int64_t batch_size = 16;          // windows per step, each config.max_seq_len + 1 tokens
  double learning_rate = 1e-3;      // peak, after linear warm-up
  double min_learning_rate = 1e-4;  // end of the cosine decay
  int64_t warmup_steps = 100;
  double weight_decay = 0.1;  // AdamW, matrices only (not norms)
  double beta1 = 0.9, beta2 = 0.95;
  double grad_clip = 1.0;  // global L2 norm
  uint64_t seed = 1;       // initial weights and the batch sampler
  int threads = 1;         // LibTorch intra-op threads
  std::string device = "cpu";
  int64_t log_every = 50;  // steps between log lines
};

// Trains a fresh model of `config` on `train_tokens` (windows sampled uniformly at random with
// a std::mt19937_64 seeded by options.seed) and writes it to `out_path` (llama2.c format).
// Every log line (step, loss, learning rate, tokens/s, elapsed time) goes to `log`.
// With threads = 1 on the CPU the run is bit-for-bit repeatable.
// INVALID_ARGUMENT: fewer training tokens than one window, bad options; token ids outside the
// vocabulary; errors of WriteLlama2cCheckpoint.
Status TrainLanguageModel(const ModelConfig& config, const std::vector<int32_t>& train_tokens,
                          const TrainOptions& options, const std::string& out_path,
                          const std::function<void(const std::string&)>& log);

}  // namespace qlab::accuracy
