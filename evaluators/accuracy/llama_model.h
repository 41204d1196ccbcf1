// A Llama-style decoder (RMSNorm, rotary embeddings, SwiGLU MLP, optional grouped-query
// attention) on LibTorch, behind a LibTorch-free interface so that only llama_model.cc and
// lm_trainer.cc pay LibTorch's compile cost. Loads any Checkpoint (llama2.c or Hugging Face),
// scores windows of tokens (negative log-likelihoods), and lets the caller rewrite weights in
// place (fake quantization).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "common/job_output.h"
#include "common/status.h"
#include "evaluators/accuracy/checkpoint.h"

namespace qlab::accuracy {

struct ModelOptions {
  // "cpu" or "cuda:N". Default: "cpu".
  std::string device = "cpu";
  // Compute and storage dtype of the weights: "float32", "float16" or "bfloat16". Norms,
  // softmax and log-softmax always run in float32. Default: "float32".
  std::string dtype = "float32";
  // Threads: ScoreWindows scores batches of windows on this many threads side by side, each
  // running LibTorch single-threaded; a single window runs on LibTorch's intra-op threads,
  // set to this (a process-wide setting). 0 leaves LibTorch's current setting. Default: 0.
  int threads = 0;
};

// Whether this LibTorch build can run on CUDA, and how many devices it sees.
bool CudaAvailable();
int CudaDeviceCount();

namespace internal {
class LlamaModule;
}

// A model resident on one device. Not thread-safe (one caller at a time).
class LlamaModel {
 public:
  // Reads every tensor of `checkpoint` (one at a time, converted to `options.dtype` on the
  // device). INVALID_ARGUMENT (bad device/dtype string), FAILED_PRECONDITION (CUDA requested
  // but unavailable, or no such device), RESOURCE_EXHAUSTED (out of memory), and the
  // checkpoint's own read errors. Checks `job` for cancellation between tensors.
  static StatusOr<std::unique_ptr<LlamaModel>> Load(const Checkpoint& checkpoint,
                                                    const ModelOptions& options,
                                                    JobContext* job = nullptr);
  // The same from any tensor source (tests, the trainer's freshly trained weights).
  static StatusOr<std::unique_ptr<LlamaModel>> Create(const ModelConfig& config,
                                                      const TensorProvider& provider,
                                                      const ModelOptions& options,
                                                      JobContext* job = nullptr);
  ~LlamaModel();

  const ModelConfig& config() const;
  // "cpu" or "cuda:N" as used.
  const std::string& device() const;

  // For each window of `context` tokens starting at windows[i], the NLL (nats) of positions
  // 1..context-1 given the tokens before them: (*nll)[i][j - 1]. Matches perplexity.h's
  // ScoreFn. INVALID_ARGUMENT for a token id outside [0, vocab_size) (names the id) or a
  // context longer than the model's rotary table allows (max(max_seq_len, 8192) positions);
  // RESOURCE_EXHAUSTED when the batch does not fit in memory.
  Status ScoreWindows(const std::vector<const int32_t*>& windows, int64_t context,
                      std::vector<std::vector<double>>* nll);

  // Logits [tokens.size(), vocab_size] (float32, row-major) of one sequence. For tests.
  StatusOr<std::vector<float>> Logits(const std::vector<int32_t>& tokens);

  // Host float32 copy of a weight (row-major, spec.shape).
  StatusOr<std::vector<float>> ReadWeight(const TensorSpec& spec) const;

  // For every tensor of RequiredTensors(config()) with select(spec) true: copies it to the
  // host as float32, calls transform(spec, &values) and writes the values back (cast to the
  // model's dtype). Stops at the first error. Checks `job` for cancellation between tensors.
  using WeightTransform = std::function<Status(const TensorSpec&, std::vector<float>*)>;
  Status TransformWeights(const std::function<bool(const TensorSpec&)>& select,
                          const WeightTransform& transform, JobContext* job = nullptr);

  // The module itself, for the trainer (lm_trainer.cc) only.
  internal::LlamaModule& module();

 private:
  LlamaModel();
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace qlab::accuracy
