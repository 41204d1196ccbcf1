// The Llama decoder on LibTorch (see llama_model.h, llama_module.h). One of the two LibTorch
// translation units of the accuracy evaluator; every LibTorch exception is converted to a
// Status here.
#include "evaluators/accuracy/llama_model.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <new>
#include <thread>

#include <dlfcn.h>

#include "evaluators/accuracy/llama_module.h"

namespace qlab::accuracy {
namespace internal {

namespace {
// Rotary tables are built for at least this many positions so that sliding windows up to a
// typical long context never rebuild them.
constexpr int64_t kMinRopePositions = 256;
}  // namespace

LlamaModule::LlamaModule(const ModelConfig& config, const torch::TensorOptions& tensor_options)
    : config_(config), specs_(RequiredTensors(config)), options_(tensor_options) {
  for (const TensorSpec& spec : specs_) {
    torch::Tensor t = torch::empty(spec.shape, tensor_options);
    std::string reg = spec.name;
    std::replace(reg.begin(), reg.end(), '.', '_');  // register_parameter rejects dots
    weights_[spec.name] = register_parameter(reg, t);
  }
}

void LlamaModule::InitForTraining(uint64_t seed) {
  torch::NoGradGuard no_grad;
  torch::manual_seed(seed);
  const double residual_std = 0.02 / std::sqrt(2.0 * static_cast<double>(config_.n_layers));
  for (const TensorSpec& spec : specs_) {
    torch::Tensor& w = weights_.at(spec.name);
    if (spec.role == TensorRole::kNorm) {
      w.fill_(1.0);
    } else if (spec.name.find("o_proj") != std::string::npos ||
               spec.name.find("down_proj") != std::string::npos) {
      w.normal_(0.0, residual_std);
    } else {
      w.normal_(0.0, 0.02);
    }
  }
}

void LlamaModule::EnsureRope(int64_t positions) {
  if (positions <= rope_positions()) return;
  positions = std::max(positions, std::max(kMinRopePositions, config_.max_seq_len));
  const int64_t half = config_.head_dim / 2;
  std::vector<double> inv_freq(static_cast<size_t>(half));
  for (int64_t i = 0; i < half; ++i) {
    double f = 1.0 / std::pow(config_.rope_theta,
                              static_cast<double>(2 * i) / static_cast<double>(config_.head_dim));
    if (config_.rope_scaling == RopeScaling::kLinear) {
      f /= config_.rope_factor;
    } else if (config_.rope_scaling == RopeScaling::kLlama3) {
      // Llama 3.1 (transformers' _compute_llama3_parameters): keep high frequencies, divide low
      // ones by the factor, interpolate in between.
      const double orig = static_cast<double>(config_.rope_original_max_positions);
      const double low_wavelen = orig / config_.rope_low_freq_factor;
      const double high_wavelen = orig / config_.rope_high_freq_factor;
      const double wavelen = 2.0 * M_PI / f;
      if (wavelen > low_wavelen) {
        f /= config_.rope_factor;
      } else if (wavelen >= high_wavelen) {
        const double smooth = (orig / wavelen - config_.rope_low_freq_factor) /
                              (config_.rope_high_freq_factor - config_.rope_low_freq_factor);
        f = (1.0 - smooth) * f / config_.rope_factor + smooth * f;
      }
    }
    inv_freq[static_cast<size_t>(i)] = f;
  }
  std::vector<float> cos_v(static_cast<size_t>(positions * half));
  std::vector<float> sin_v(cos_v.size());
  for (int64_t p = 0; p < positions; ++p) {
    for (int64_t i = 0; i < half; ++i) {
      const double angle = static_cast<double>(p) * inv_freq[static_cast<size_t>(i)];
      cos_v[static_cast<size_t>(p * half + i)] = static_cast<float>(std::cos(angle));
      sin_v[static_cast<size_t>(p * half + i)] = static_cast<float>(std::sin(angle));
    }
  }
  const auto f32 = torch::TensorOptions().dtype(torch::kFloat32);
  // clone(): from_blob does not own the vectors, and to() is a no-op on the CPU.
  rope_cos_ = torch::from_blob(cos_v.data(), {positions, half}, f32).clone().to(options_.device());
  rope_sin_ = torch::from_blob(sin_v.data(), {positions, half}, f32).clone().to(options_.device());
}

torch::Tensor LlamaModule::RmsNorm(const torch::Tensor& x, const torch::Tensor& w) const {
  // float32 statistics whatever the weights' dtype, as Hugging Face's LlamaRMSNorm.
  const torch::Tensor xf = x.to(torch::kFloat32);
  const torch::Tensor normed = xf * torch::rsqrt(xf.pow(2).mean(-1, true) + config_.norm_eps);
  return w * normed.to(x.scalar_type());
}

torch::Tensor LlamaModule::Rope(const torch::Tensor& x) const {
  using torch::indexing::Slice;
  const int64_t t = x.size(1);
  const int64_t half = config_.head_dim / 2;
  // [T, half] -> [1, T, 1, half]
  const torch::Tensor cos = rope_cos_.index({Slice(0, t)}).unsqueeze(0).unsqueeze(2);
  const torch::Tensor sin = rope_sin_.index({Slice(0, t)}).unsqueeze(0).unsqueeze(2);
  const torch::Tensor xf = x.to(torch::kFloat32);
  torch::Tensor a, b;
  if (config_.rope_interleaved) {
    const torch::Tensor pairs = xf.unflatten(-1, {half, 2});
    a = pairs.select(-1, 0);
    b = pairs.select(-1, 1);
    return torch::stack({a * cos - b * sin, a * sin + b * cos}, -1).flatten(-2).to(x.scalar_type());
  }
  a = xf.narrow(-1, 0, half);
  b = xf.narrow(-1, half, half);
  return torch::cat({a * cos - b * sin, b * cos + a * sin}, -1).to(x.scalar_type());
}

// Causal attention over [N, T, hd] heads, a few heads at a time: the [n, T, T] scores of a
// chunk stay in cache (4 MiB: the fastest of 0.25 to 16 MiB on a 2-core Xeon) instead of one
// batch-sized tensor that each of the mask, softmax and product passes streams through memory.
// The mask rides in baddbmm's bias.
torch::Tensor LlamaModule::Attention(const torch::Tensor& q, const torch::Tensor& k,
                                     const torch::Tensor& v, const torch::Tensor& mask,
                                     double scale) const {
  constexpr int64_t kChunkScoreElements = int64_t{1} << 20;
  const int64_t n = q.size(0), t = q.size(1);
  const int64_t chunk = std::max<int64_t>(1, kChunkScoreElements / std::max<int64_t>(1, t * t));
  const torch::Tensor bias = mask.to(q.scalar_type());
  std::vector<torch::Tensor> parts;
  parts.reserve(static_cast<size_t>((n + chunk - 1) / chunk));
  for (int64_t i = 0; i < n; i += chunk) {
    const int64_t m = std::min(chunk, n - i);
    const torch::Tensor qc = q.narrow(0, i, m), kc = k.narrow(0, i, m), vc = v.narrow(0, i, m);
    const torch::Tensor scores = torch::baddbmm(bias, qc, kc.transpose(1, 2), 1.0, scale);
    // float32 softmax whatever the weights' dtype, as Hugging Face's eager attention.
    const torch::Tensor probs = torch::softmax(scores, -1, torch::kFloat32).to(q.scalar_type());
    parts.push_back(torch::bmm(probs, vc));
  }
  return parts.size() == 1 ? parts[0] : torch::cat(parts, 0);
}

torch::Tensor LlamaModule::Forward(const torch::Tensor& tokens) {
  const ModelConfig& c = config_;
  const int64_t bsz = tokens.size(0);
  const int64_t t = tokens.size(1);
  EnsureRope(t);
  const torch::Tensor& emb = weights_.at("model.embed_tokens.weight");
  torch::Tensor x = torch::embedding(emb, tokens);
  // Additive causal mask: -inf above the diagonal. Built with masked_fill: triu() of a tensor
  // full of -inf multiplies by zero below the diagonal and gives NaN.
  const torch::Tensor mask =
      torch::zeros({t, t}, torch::TensorOptions().dtype(torch::kFloat32).device(tokens.device()))
          .masked_fill(
              torch::ones({t, t},
                          torch::TensorOptions().dtype(torch::kBool).device(tokens.device()))
                  .triu(1),
              -std::numeric_limits<float>::infinity());
  const double scale = 1.0 / std::sqrt(static_cast<double>(c.head_dim));
  const int64_t group = c.n_heads / c.n_kv_heads;
  for (int64_t l = 0; l < c.n_layers; ++l) {
    auto w = [&](const char* what) -> const torch::Tensor& {
      return weights_.at(LayerTensorName(l, what));
    };
    torch::Tensor h = RmsNorm(x, w("input_layernorm"));
    torch::Tensor q = torch::linear(h, w("self_attn.q_proj")).view({bsz, t, c.n_heads, c.head_dim});
    torch::Tensor k =
        torch::linear(h, w("self_attn.k_proj")).view({bsz, t, c.n_kv_heads, c.head_dim});
    torch::Tensor v =
        torch::linear(h, w("self_attn.v_proj")).view({bsz, t, c.n_kv_heads, c.head_dim});
    q = Rope(q).transpose(1, 2);  // [B, H, T, hd]
    k = Rope(k).transpose(1, 2);
    v = v.transpose(1, 2);
    if (group > 1) {
      k = k.repeat_interleave(group, 1);
      v = v.repeat_interleave(group, 1);
    }
    torch::Tensor y = Attention(q.reshape({bsz * c.n_heads, t, c.head_dim}),
                                k.reshape({bsz * c.n_heads, t, c.head_dim}),
                                v.reshape({bsz * c.n_heads, t, c.head_dim}), mask, scale)
                          .view({bsz, c.n_heads, t, c.head_dim})
                          .transpose(1, 2)
                          .reshape({bsz, t, -1});
    x = x + torch::linear(y, w("self_attn.o_proj"));
    h = RmsNorm(x, w("post_attention_layernorm"));
    torch::Tensor mlp =
        torch::silu(torch::linear(h, w("mlp.gate_proj"))) * torch::linear(h, w("mlp.up_proj"));
    x = x + torch::linear(mlp, w("mlp.down_proj"));
  }
  x = RmsNorm(x, weights_.at("model.norm.weight"));
  return torch::linear(x, c.shared_classifier ? emb : weights_.at("lm_head.weight"));
}

}  // namespace internal

namespace {

// Converts the exception in flight into a Status with `what` as context.
Status FromException(const std::string& what) {
  try {
    throw;
  } catch (const std::bad_alloc&) {
    return Status::ResourceExhausted(what + ": out of memory");
  } catch (const std::exception& e) {
    std::string msg = e.what();
    // LibTorch messages carry a long C++ backtrace after the first line.
    if (const size_t nl = msg.find("\nException raised from"); nl != std::string::npos) {
      msg.resize(nl);
    }
    if (msg.size() > 500) msg.resize(500);
    if (msg.find("out of memory") != std::string::npos ||
        msg.find("DefaultCPUAllocator: can't allocate") != std::string::npos) {
      return Status::ResourceExhausted(what + ": out of memory: " + msg);
    }
    return Status::Internal(what + ": " + msg);
  }
}

StatusOr<torch::Device> ParseDevice(const std::string& device) {
  if (device == "cpu") return torch::Device(torch::kCPU);
  int index = 0;
  if (device == "cuda") {
    index = 0;
  } else if (device.rfind("cuda:", 0) == 0 && device.size() > 5 &&
             std::all_of(device.begin() + 5, device.end(), ::isdigit) && device.size() < 9) {
    index = std::stoi(device.substr(5));
  } else {
    return Status::InvalidArgument("device must be cpu or cuda:N, got '" + device + "'");
  }
  if (!CudaAvailable()) {
    return Status::FailedPrecondition("device " + device +
                                      " requested but this LibTorch build has no usable CUDA");
  }
  if (index >= CudaDeviceCount()) {
    return Status::FailedPrecondition("device " + device + " does not exist (" +
                                      std::to_string(CudaDeviceCount()) + " CUDA devices)");
  }
  return torch::Device(torch::kCUDA, static_cast<c10::DeviceIndex>(index));
}

StatusOr<torch::ScalarType> ParseDtype(const std::string& dtype) {
  if (dtype == "float32") return torch::kFloat32;
  if (dtype == "float16") return torch::kFloat16;
  if (dtype == "bfloat16") return torch::kBFloat16;
  return Status::InvalidArgument("dtype must be float32, float16 or bfloat16, got '" + dtype + "'");
}

}  // namespace

bool CudaAvailable() {
  try {
    return torch::cuda::is_available();
  } catch (...) {
    return false;
  }
}

int CudaDeviceCount() {
  try {
    return static_cast<int>(torch::cuda::device_count());
  } catch (...) {
    return 0;
  }
}

// OpenBLAS's own threads off while windows are scored on several threads (each calling the
// BLAS), restored after. Looked up at run time: another BLAS behind LibTorch has no such
// switch, and none is needed when its calls run on the caller's thread.
class SingleThreadedBlas {
 public:
  SingleThreadedBlas() {
    set_ = reinterpret_cast<void (*)(int)>(::dlsym(RTLD_DEFAULT, "openblas_set_num_threads"));
    auto get = reinterpret_cast<int (*)()>(::dlsym(RTLD_DEFAULT, "openblas_get_num_threads"));
    if (set_ == nullptr || get == nullptr) {
      set_ = nullptr;
      return;
    }
    previous_ = get();
    set_(1);
  }
  ~SingleThreadedBlas() {
    if (set_ != nullptr) set_(previous_);
  }
  SingleThreadedBlas(const SingleThreadedBlas&) = delete;
  SingleThreadedBlas& operator=(const SingleThreadedBlas&) = delete;

 private:
  void (*set_)(int) = nullptr;
  int previous_ = 1;
};

struct LlamaModel::Impl {
  std::unique_ptr<internal::LlamaModule> module;
  int threads = 1;  // scoring threads (ModelOptions::threads, resolved)
  std::string device_name;
  torch::Device device{torch::kCPU};
  torch::ScalarType dtype = torch::kFloat32;
};

LlamaModel::LlamaModel() : impl_(std::make_unique<Impl>()) {}
LlamaModel::~LlamaModel() = default;

const ModelConfig& LlamaModel::config() const { return impl_->module->config(); }
const std::string& LlamaModel::device() const { return impl_->device_name; }
internal::LlamaModule& LlamaModel::module() { return *impl_->module; }

StatusOr<std::unique_ptr<LlamaModel>> LlamaModel::Load(const Checkpoint& checkpoint,
                                                       const ModelOptions& options,
                                                       JobContext* job) {
  return Create(
      checkpoint.config(), [&](const TensorSpec& spec) { return checkpoint.ReadTensor(spec); },
      options, job);
}

StatusOr<std::unique_ptr<LlamaModel>> LlamaModel::Create(const ModelConfig& config,
                                                         const TensorProvider& provider,
                                                         const ModelOptions& options,
                                                         JobContext* job) {
  RETURN_IF_ERROR(ValidateConfig(config));
  std::unique_ptr<LlamaModel> model(new LlamaModel());
  Impl& impl = *model->impl_;
  ASSIGN_OR_RETURN(impl.device, ParseDevice(options.device));
  ASSIGN_OR_RETURN(impl.dtype, ParseDtype(options.dtype));
  impl.device_name = impl.device.is_cpu() ? "cpu" : "cuda:" + std::to_string(impl.device.index());
  if (options.threads > 0) torch::set_num_threads(options.threads);
  impl.threads = std::max(1, torch::get_num_threads());
  try {
    torch::NoGradGuard no_grad;
    impl.module = std::make_unique<internal::LlamaModule>(
        config, torch::TensorOptions().dtype(impl.dtype).device(impl.device));
    for (const TensorSpec& spec : impl.module->specs()) {
      if (job != nullptr && job->cancelled()) return Status::Cancelled("accuracy job cancelled");
      ASSIGN_OR_RETURN(std::vector<float> values, provider(spec));
      if (static_cast<int64_t>(values.size()) != spec.NumElements()) {
        return Status::InvalidArgument("tensor '" + spec.name + "' has " +
                                       std::to_string(values.size()) + " values, expected " +
                                       std::to_string(spec.NumElements()));
      }
      const torch::Tensor host = torch::from_blob(values.data(), spec.shape, torch::kFloat32);
      torch::Tensor& w = impl.module->weight(spec.name);
      w.copy_(host);
      w.set_requires_grad(false);  // inference only; the trainer builds its own module
    }
    impl.module->EnsureRope(config.max_seq_len);
  } catch (...) {
    return FromException("loading the model");
  }
  return model;
}

Status LlamaModel::ScoreWindows(const std::vector<const int32_t*>& windows, int64_t context,
                                std::vector<std::vector<double>>* nll) {
  const ModelConfig& c = config();
  const int64_t max_positions = std::max<int64_t>(c.max_seq_len, 8192);
  if (context < 2 || context > max_positions) {
    return Status::InvalidArgument("context " + std::to_string(context) + " is outside [2, " +
                                   std::to_string(max_positions) + "] for this model");
  }
  const int64_t bsz = static_cast<int64_t>(windows.size());
  std::vector<int64_t> ids(static_cast<size_t>(bsz * context));
  for (int64_t b = 0; b < bsz; ++b) {
    for (int64_t j = 0; j < context; ++j) {
      const int32_t id = windows[static_cast<size_t>(b)][j];
      if (id < 0 || id >= c.vocab_size) {
        return Status::InvalidArgument("token id " + std::to_string(id) +
                                       " is outside the model's vocabulary [0, " +
                                       std::to_string(c.vocab_size) + ")");
      }
      ids[static_cast<size_t>(b * context + j)] = id;
    }
  }
  // Windows are split into one shard per thread, each scored with LibTorch single-threaded:
  // a small model's operators are too short for intra-op threads to pay for their
  // synchronisation, and whole forward passes side by side keep every core busy.
  const int64_t shards = impl_->device.is_cpu() ? std::min<int64_t>(impl_->threads, bsz) : 1;
  std::vector<std::vector<double>> shard_nll(static_cast<size_t>(bsz));
  std::vector<Status> shard_status(static_cast<size_t>(shards));
  auto score_shard = [&](int64_t shard) {
    const int64_t b0 = bsz * shard / shards, b1 = bsz * (shard + 1) / shards;
    try {
      c10::InferenceMode inference;
      const torch::Tensor tokens =
          torch::from_blob(ids.data() + b0 * context, {b1 - b0, context}, torch::kInt64)
              .to(impl_->device);
      const torch::Tensor logits = impl_->module->Forward(tokens);
      using torch::indexing::Slice;
      // -log p(target) = logsumexp(logits) - logit(target): no log-softmax tensor is written.
      const torch::Tensor scored = logits.index({Slice(), Slice(0, context - 1)}).to(torch::kFloat32);
      const torch::Tensor targets = tokens.index({Slice(), Slice(1, context)}).unsqueeze(-1);
      const torch::Tensor per_token = (torch::logsumexp(scored, -1) -
                                       scored.gather(-1, targets).squeeze(-1))
                                          .to(torch::kCPU, torch::kFloat64)
                                          .contiguous();
      const double* p = per_token.data_ptr<double>();
      for (int64_t b = b0; b < b1; ++b) {
        shard_nll[static_cast<size_t>(b)].assign(p + (b - b0) * (context - 1),
                                                  p + (b - b0 + 1) * (context - 1));
      }
    } catch (...) {
      shard_status[static_cast<size_t>(shard)] =
          FromException("scoring " + std::to_string(b1 - b0) + " windows of " +
                        std::to_string(context) + " tokens on " + impl_->device_name);
    }
  };
  if (shards <= 1) {
    score_shard(0);
  } else {
    const SingleThreadedBlas blas_guard;
    std::vector<std::thread> workers;
    for (int64_t shard = 0; shard < shards; ++shard) {
      workers.emplace_back([&, shard] {
        torch::set_num_threads(1);
        score_shard(shard);
      });
    }
    for (std::thread& worker : workers) worker.join();
    torch::set_num_threads(impl_->threads);  // the calling thread's setting, as before
  }
  for (const Status& status : shard_status) RETURN_IF_ERROR(status);
  *nll = std::move(shard_nll);
  return Status::Ok();
}

StatusOr<std::vector<float>> LlamaModel::Logits(const std::vector<int32_t>& tokens) {
  const ModelConfig& c = config();
  std::vector<int64_t> ids;
  for (int32_t id : tokens) {
    if (id < 0 || id >= c.vocab_size) {
      return Status::InvalidArgument("token id " + std::to_string(id) + " outside [0, " +
                                     std::to_string(c.vocab_size) + ")");
    }
    ids.push_back(id);
  }
  if (ids.empty()) return Status::InvalidArgument("no tokens");
  try {
    c10::InferenceMode inference;
    const int64_t t = static_cast<int64_t>(ids.size());
    const torch::Tensor in = torch::from_blob(ids.data(), {1, t}, torch::kInt64).to(impl_->device);
    const torch::Tensor logits =
        impl_->module->Forward(in).to(torch::kCPU, torch::kFloat32).contiguous();
    const float* p = logits.data_ptr<float>();
    return std::vector<float>(p, p + logits.numel());
  } catch (...) {
    return FromException("computing logits");
  }
}

StatusOr<std::vector<float>> LlamaModel::ReadWeight(const TensorSpec& spec) const {
  try {
    torch::NoGradGuard no_grad;
    const torch::Tensor host =
        impl_->module->weight(spec.name).detach().to(torch::kCPU, torch::kFloat32).contiguous();
    const float* p = host.data_ptr<float>();
    return std::vector<float>(p, p + host.numel());
  } catch (...) {
    return FromException("reading weight '" + spec.name + "'");
  }
}

Status LlamaModel::TransformWeights(const std::function<bool(const TensorSpec&)>& select,
                                    const WeightTransform& transform, JobContext* job) {
  for (const TensorSpec& spec : impl_->module->specs()) {
    if (!select(spec)) continue;
    if (job != nullptr && job->cancelled()) return Status::Cancelled("accuracy job cancelled");
    ASSIGN_OR_RETURN(std::vector<float> values, ReadWeight(spec));
    RETURN_IF_ERROR(transform(spec, &values));
    if (static_cast<int64_t>(values.size()) != spec.NumElements()) {
      return Status::Internal("transform changed the size of '" + spec.name + "'");
    }
    try {
      torch::NoGradGuard no_grad;
      impl_->module->weight(spec.name).copy_(
          torch::from_blob(values.data(), spec.shape, torch::kFloat32));
    } catch (...) {
      return FromException("writing weight '" + spec.name + "'");
    }
  }
  return Status::Ok();
}

}  // namespace qlab::accuracy
