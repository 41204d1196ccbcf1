// Training loop (see lm_trainer.h): AdamW, linear warm-up then cosine decay, gradient
// clipping, next-token cross-entropy over random windows. The second LibTorch translation unit
// of the evaluator (with llama_model.cc).
#include "evaluators/accuracy/lm_trainer.h"

#include <chrono>
#include <cmath>
#include <cstdarg>
#include <cstdio>
#include <random>

#include "evaluators/accuracy/llama_module.h"

namespace qlab::accuracy {
namespace {

double LearningRate(const TrainOptions& o, int64_t step) {
  if (step < o.warmup_steps) {
    return o.learning_rate * static_cast<double>(step + 1) / static_cast<double>(o.warmup_steps);
  }
  const double progress = static_cast<double>(step - o.warmup_steps) /
                          static_cast<double>(std::max<int64_t>(1, o.steps - o.warmup_steps));
  return o.min_learning_rate +
         0.5 * (o.learning_rate - o.min_learning_rate) * (1.0 + std::cos(M_PI * progress));
}

std::string Format(const char* fmt, ...) __attribute__((format(printf, 1, 2)));
std::string Format(const char* fmt, ...) {
  char buf[512];
  va_list ap;
  va_start(ap, fmt);
  std::vsnprintf(buf, sizeof(buf), fmt, ap);
  va_end(ap);
  return buf;
}

}  // namespace

Status TrainLanguageModel(const ModelConfig& config, const std::vector<int32_t>& train_tokens,
                          const TrainOptions& o, const std::string& out_path,
                          const std::function<void(const std::string&)>& log) {
  RETURN_IF_ERROR(ValidateConfig(config));
  const int64_t t = config.max_seq_len;
  if (static_cast<int64_t>(train_tokens.size()) < t + 2) {
    return Status::InvalidArgument("training stream has " + std::to_string(train_tokens.size()) +
                                   " tokens, fewer than one window of " + std::to_string(t + 1));
  }
  if (o.steps < 1 || o.batch_size < 1 || o.warmup_steps < 0 || !(o.learning_rate > 0)) {
    return Status::InvalidArgument("steps, batch_size and learning_rate must be positive");
  }
  for (size_t i = 0; i < train_tokens.size(); ++i) {
    if (train_tokens[i] < 0 || train_tokens[i] >= config.vocab_size) {
      return Status::InvalidArgument("training token " + std::to_string(i) + " has id " +
                                     std::to_string(train_tokens[i]) + ", outside the vocabulary");
    }
  }
  try {
    if (o.threads > 0) torch::set_num_threads(o.threads);
    const torch::Device device(o.device);
    internal::LlamaModule model(config,
                                torch::TensorOptions().dtype(torch::kFloat32).device(device));
    model.InitForTraining(o.seed);
    model.EnsureRope(t);

    // Decay matrices, not norm gains.
    std::vector<torch::Tensor> decay, no_decay;
    for (const TensorSpec& spec : model.specs()) {
      (spec.role == TensorRole::kNorm ? no_decay : decay).push_back(model.weight(spec.name));
    }
    auto make_options = [&](double wd) {
      auto opts = std::make_unique<torch::optim::AdamWOptions>(o.learning_rate);
      opts->betas({o.beta1, o.beta2}).weight_decay(wd).eps(1e-8);
      return opts;
    };
    std::vector<torch::optim::OptimizerParamGroup> groups;
    groups.emplace_back(decay, make_options(o.weight_decay));
    groups.emplace_back(no_decay, make_options(0.0));
    torch::optim::AdamW optimizer(groups, torch::optim::AdamWOptions(o.learning_rate));

    std::mt19937_64 rng(o.seed);
    std::uniform_int_distribution<int64_t> pick(
        0, static_cast<int64_t>(train_tokens.size()) - (t + 1));
    std::vector<int64_t> batch(static_cast<size_t>(o.batch_size * (t + 1)));
    const auto start = std::chrono::steady_clock::now();
    auto last = start;
    double loss_sum = 0;
    int64_t loss_count = 0;
    log(
        Format("model: %s, %lld parameters; %zu training tokens; %lld steps x %lld windows x "
               "%lld tokens",
               config.Summary().c_str(), static_cast<long long>(config.NumParameters()),
               train_tokens.size(), static_cast<long long>(o.steps),
               static_cast<long long>(o.batch_size), static_cast<long long>(t)));
    for (int64_t step = 0; step < o.steps; ++step) {
      for (int64_t b = 0; b < o.batch_size; ++b) {
        const int64_t off = pick(rng);
        for (int64_t j = 0; j <= t; ++j) {
          batch[static_cast<size_t>(b * (t + 1) + j)] = train_tokens[static_cast<size_t>(off + j)];
        }
      }
      const torch::Tensor all =
          torch::from_blob(batch.data(), {o.batch_size, t + 1}, torch::kInt64).to(device);
      using torch::indexing::Slice;
      const torch::Tensor x = all.index({Slice(), Slice(0, t)});
      const torch::Tensor y = all.index({Slice(), Slice(1, t + 1)});
      const double lr = LearningRate(o, step);
      for (auto& group : optimizer.param_groups()) {
        static_cast<torch::optim::AdamWOptions&>(group.options()).lr(lr);
      }
      const torch::Tensor logits = model.Forward(x);
      const torch::Tensor loss =
          torch::cross_entropy_loss(logits.reshape({-1, config.vocab_size}), y.reshape({-1}));
      optimizer.zero_grad();
      loss.backward();
      torch::nn::utils::clip_grad_norm_(model.parameters(), o.grad_clip);
      optimizer.step();
      loss_sum += loss.item<double>();
      ++loss_count;
      if ((step + 1) % o.log_every == 0 || step + 1 == o.steps) {
        const auto now = std::chrono::steady_clock::now();
        const double elapsed = std::chrono::duration<double>(now - start).count();
        const double window = std::chrono::duration<double>(now - last).count();
        last = now;
        log(Format("step %6lld  loss %.4f  lr %.2e  %.0f tok/s  %.0f s",
                   static_cast<long long>(step + 1), loss_sum / loss_count, lr,
                   static_cast<double>(loss_count * o.batch_size * t) / window, elapsed));
        loss_sum = 0;
        loss_count = 0;
      }
    }
    torch::NoGradGuard no_grad;
    return WriteLlama2cCheckpoint(
        out_path, config, [&](const TensorSpec& spec) -> StatusOr<std::vector<float>> {
          const torch::Tensor w = model.weight(spec.name).detach().to(torch::kCPU).contiguous();
          const float* p = w.data_ptr<float>();
          return std::vector<float>(p, p + w.numel());
        });
  } catch (const std::exception& e) {
    std::string msg = e.what();
    if (const size_t nl = msg.find("\nException raised from"); nl != std::string::npos) {
      msg.resize(nl);
    }
    return Status::Internal("training failed: " + msg);
  }
}

}  // namespace qlab::accuracy
