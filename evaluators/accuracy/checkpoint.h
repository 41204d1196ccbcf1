// Llama-family checkpoints without LibTorch: the model configuration, the tensors a
// configuration requires (named as in Hugging Face's LlamaForCausalLM), and readers for the two
// on-disk formats qlab accepts:
//   - llama2.c checkpoint files (run.c's legacy format: 7 int32 header fields, then float32
//     arrays in a fixed order; see docs in checkpoint.cc and WriteLlama2cCheckpoint);
//   - Hugging Face folders: config.json plus *.safetensors (one file, or shards listed by
//     model.safetensors.index.json), memory-mapped, F32/F16/BF16.
// Every tensor is checked (present, shape, dtype) when the checkpoint is opened, before any
// weight is read, so a bad checkpoint fails in milliseconds with the tensor named.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "common/status.h"

namespace qlab::accuracy {

// RoPE frequency scaling of long-context checkpoints (config.json "rope_scaling").
enum class RopeScaling : uint8_t {
  kNone,
  kLinear,  // positions divided by factor
  kLlama3,  // Llama 3.1: low frequencies divided by factor, smooth band in between
};

struct ModelConfig {
  // "llama2c" for llama2.c files, else config.json's architectures[0] (e.g. LlamaForCausalLM).
  std::string architecture;
  int64_t dim = 0;         // hidden size
  int64_t hidden_dim = 0;  // SwiGLU inner size
  int64_t n_layers = 0;
  int64_t n_heads = 0;
  int64_t n_kv_heads = 0;  // < n_heads: grouped-query attention
  int64_t head_dim = 0;    // usually dim / n_heads
  int64_t vocab_size = 0;
  int64_t max_seq_len = 0;  // the longest context the model was trained for
  double norm_eps = 1e-5;   // RMSNorm epsilon
  double rope_theta = 10000.0;
  // true: RoPE rotates adjacent pairs (x[2i], x[2i+1]) as Meta's and llama2.c's code does;
  // false: it rotates halves (x[i], x[i + head_dim/2]) as Hugging Face's code does (their
  // q/k weights are permuted to match).
  bool rope_interleaved = true;
  RopeScaling rope_scaling = RopeScaling::kNone;
  double rope_factor = 1.0;                    // kLinear, kLlama3
  double rope_low_freq_factor = 1.0;           // kLlama3
  double rope_high_freq_factor = 4.0;          // kLlama3
  int64_t rope_original_max_positions = 8192;  // kLlama3
  bool shared_classifier = true;               // output head is the token embedding
  std::string stored_dtype = "F32";            // dominant dtype on disk (F32, F16, BF16)

  // Number of parameters (shared classifier counted once).
  int64_t NumParameters() const;
  // "dim 128, 6 layers, 4 heads (kv 4), hidden 384, vocab 1024, seq 256".
  std::string Summary() const;
};

// What a tensor is used for: decides what the accuracy job quantizes.
enum class TensorRole : uint8_t {
  kEmbedding,    // token embedding
  kNorm,         // RMSNorm weights
  kBlockLinear,  // attention and MLP projections of the transformer blocks
  kHead,         // output classifier (absent when shared with the embedding)
};

struct TensorSpec {
  std::string name;            // Hugging Face name, e.g. "model.layers.0.self_attn.q_proj.weight"
  std::vector<int64_t> shape;  // [out, in] for linear weights (rows are output channels)
  TensorRole role = TensorRole::kBlockLinear;
  int64_t NumElements() const;
};

// Checks that a configuration is usable: positive sizes, n_heads divisible by n_kv_heads,
// even head_dim. INVALID_ARGUMENT naming the field otherwise.
Status ValidateConfig(const ModelConfig& config);

// Every tensor the configuration needs, in llama2.c file order (embedding, per-layer tensors
// grouped by kind, final norm, head).
std::vector<TensorSpec> RequiredTensors(const ModelConfig& config);

// Hugging Face name of a per-layer tensor, e.g. LayerTensorName(3, "mlp.down_proj").
std::string LayerTensorName(int64_t layer, const std::string& what);

// An open checkpoint. Immutable after Open; ReadTensor is thread-safe.
class Checkpoint {
 public:
  virtual ~Checkpoint() = default;

  // Opens `path`: a directory is a Hugging Face folder, a regular file a llama2.c checkpoint.
  // Errors: NOT_FOUND (no such path, no config.json or *.safetensors in a folder, a tensor
  // missing: the message names it and where it was looked for), INVALID_ARGUMENT (unknown
  // architecture, unsupported config value, tensor shape or dtype mismatch: names the tensor,
  // expected and actual), DATA_LOSS (file size disagrees with the llama2.c header, corrupt
  // safetensors), UNIMPLEMENTED (llama2.c's newer versioned exports).
  static StatusOr<std::unique_ptr<Checkpoint>> Open(const std::string& path);

  const ModelConfig& config() const { return config_; }
  // "llama2c" or "huggingface".
  virtual const char* format() const = 0;

  // The tensor as float32, row-major in spec.shape. REQUIRES: spec from
  // RequiredTensors(config()). NOT_FOUND / DATA_LOSS as for Open.
  virtual StatusOr<std::vector<float>> ReadTensor(const TensorSpec& spec) const = 0;

 protected:
  ModelConfig config_;
};

// The configuration of a model without its weights: a llama2.c file (header checked against
// the file's size), a Hugging Face folder (only its config.json is read) or a bare config.json.
// Accepts, for shapes, Qwen2ForCausalLM besides the architectures Open accepts. Errors as for
// Open; INVALID_ARGUMENT for a config.json over 1 MiB.
StatusOr<ModelConfig> ReadModelShapes(const std::string& path);

// Supplies the float32 values of a required tensor (row-major, spec.shape).
using TensorProvider = std::function<StatusOr<std::vector<float>>(const TensorSpec&)>;

// Writes a llama2.c checkpoint (legacy run.c format) for `config` with the tensors given by
// `provider`. The unshared classifier is signalled by a negative vocab size, as run.c expects.
// REQUIRES: config.architecture "llama2c"-compatible: rope_interleaved, theta 10000, eps 1e-5,
// head_dim == dim / n_heads (run.c hard-codes these). INVALID_ARGUMENT otherwise; INTERNAL
// when the file cannot be written. The file is written to `path + ".tmp"` and renamed.
Status WriteLlama2cCheckpoint(const std::string& path, const ModelConfig& config,
                              const TensorProvider& provider);

// The configuration run.c implies for the header fields (used by the trainer and tests).
ModelConfig Llama2cConfig(int64_t dim, int64_t hidden_dim, int64_t n_layers, int64_t n_heads,
                          int64_t n_kv_heads, int64_t vocab_size, int64_t max_seq_len,
                          bool shared_classifier);

}  // namespace qlab::accuracy
