// The accuracy job (see accuracy_job.h): params -> checkpoint and token stream (all checks
// that need no weights first) -> model -> reference pass -> fake quantization with the datatype
// library's exact encode/decode -> quantized pass -> metrics. LibTorch-free: the model lives
// behind llama_model.h.
#include "evaluators/accuracy/accuracy_job.h"

#include <algorithm>
#include <cmath>
#include <thread>

#include "evaluators/accuracy/accuracy_params.h"
#include "evaluators/accuracy/checkpoint.h"
#include "evaluators/accuracy/llama_model.h"
#include "evaluators/accuracy/perplexity.h"
#include "evaluators/accuracy/tokenizer.h"
#include "evaluators/datatypes/hw_cost.h"
#include "evaluators/datatypes/quantizer.h"

namespace qlab {
namespace {

using accuracy::AccuracyParams;
using accuracy::Checkpoint;
using accuracy::LlamaModel;
using accuracy::ModelConfig;
using accuracy::TensorRole;
using accuracy::TensorSpec;

// Logits of one forward pass stay under this many floats (32 MB): keeps a CPU worker's memory
// small and still batches 32 windows of 256 tokens for a 1,024-piece vocabulary.
constexpr int64_t kMaxBatchLogits = int64_t{1} << 23;

void AddMetric(JobOutput& out, const char* name, double value, const char* unit,
               bool higher_is_better) {
  out.metrics.push_back({name, value, unit, 0.0, higher_is_better});
}

// The evaluation token stream, checked against the model's vocabulary.
StatusOr<std::vector<int32_t>> LoadTokens(const AccuracyParams& p, const ModelConfig& config) {
  std::vector<int32_t> tokens;
  if (!p.tokens.empty()) {
    ASSIGN_OR_RETURN(tokens, accuracy::ReadTokenFile(p.tokens));
  } else {
    ASSIGN_OR_RETURN(std::unique_ptr<accuracy::Tokenizer> tokenizer,
                     accuracy::Tokenizer::Load(p.tokenizer));
    if (tokenizer->vocab_size() > config.vocab_size) {
      return Status::InvalidArgument(
          "tokenizer '" + p.tokenizer + "' has " + std::to_string(tokenizer->vocab_size()) +
          " pieces but the model's vocabulary has " + std::to_string(config.vocab_size) +
          ": they do not belong together");
    }
    ASSIGN_OR_RETURN(std::string text, accuracy::ReadFileToString(p.text));
    ASSIGN_OR_RETURN(tokens, tokenizer->EncodeDocument(text));
  }
  for (size_t i = 0; i < tokens.size(); ++i) {
    if (tokens[i] < 0 || tokens[i] >= config.vocab_size) {
      return Status::InvalidArgument(
          "token " + std::to_string(i) + " of " + (p.tokens.empty() ? p.text : p.tokens) +
          " has id " + std::to_string(tokens[i]) + ", outside the model's vocabulary [0, " +
          std::to_string(config.vocab_size) + "): tokens and model do not match");
    }
  }
  if (p.max_tokens > 0 && static_cast<int64_t>(tokens.size()) > p.max_tokens) {
    tokens.resize(static_cast<size_t>(p.max_tokens));
  }
  return tokens;
}

bool IsQuantized(const TensorSpec& spec, const ModelConfig& config, bool quantize_head) {
  if (spec.role == TensorRole::kBlockLinear) return true;
  if (!quantize_head) return false;
  return spec.role == TensorRole::kHead ||
         (config.shared_classifier && spec.role == TensorRole::kEmbedding);
}

}  // namespace

StatusOr<JobOutput> RunAccuracyJob(const nlohmann::json& params, JobContext& context) {
  ASSIGN_OR_RETURN(const AccuracyParams p, accuracy::ParseAccuracyParams(params));
  ASSIGN_OR_RETURN(const std::unique_ptr<Checkpoint> checkpoint, Checkpoint::Open(p.model));
  const ModelConfig& config = checkpoint->config();

  const int64_t ctx = p.context > 0 ? p.context : config.max_seq_len;
  if (ctx > config.max_seq_len) {
    return Status::InvalidArgument("context: " + std::to_string(ctx) +
                                   " exceeds the model's maximum sequence length " +
                                   std::to_string(config.max_seq_len));
  }
  const int64_t stride = p.stride > 0 ? p.stride : ctx;
  if (stride > ctx) {
    return Status::InvalidArgument("stride: " + std::to_string(stride) + " exceeds the context " +
                                   std::to_string(ctx));
  }
  ASSIGN_OR_RETURN(const std::vector<int32_t> tokens, LoadTokens(p, config));
  ASSIGN_OR_RETURN(const accuracy::WindowPlan plan,
                   accuracy::PlanWindows(static_cast<int64_t>(tokens.size()), ctx, stride));

  // The quantizer and its group size for every quantized layer, before any weight is read.
  ASSIGN_OR_RETURN(const datatypes::Quantizer quantizer,
                   datatypes::Quantizer::Create(p.datatype, p.quantizer));
  const std::vector<TensorSpec> specs = accuracy::RequiredTensors(config);
  for (const TensorSpec& spec : specs) {
    if (!IsQuantized(spec, config, p.quantize_head)) continue;
    auto group = quantizer.GroupSizeFor(spec.shape.back());
    if (!group.ok()) {
      return Status::InvalidArgument("group_size: " + group.status().message() + " (tensor '" +
                                     spec.name + "', shape [" + std::to_string(spec.shape[0]) +
                                     ", " + std::to_string(spec.shape[1]) + "])");
    }
  }

  const int threads = p.threads > 0
                          ? p.threads
                          : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  accuracy::ModelOptions options;
  options.device = p.device;
  options.dtype = p.dtype;
  options.threads = threads;
  ASSIGN_OR_RETURN(std::unique_ptr<LlamaModel> model,
                   LlamaModel::Load(*checkpoint, options, &context));
  context.ReportProgress(0.05);

  const int batch =
      p.batch > 0 ? p.batch
                  : static_cast<int>(std::clamp<int64_t>(
                        kMaxBatchLogits / std::max<int64_t>(1, ctx * config.vocab_size), 1, 64));
  const accuracy::ScoreFn score = [&](const std::vector<const int32_t*>& windows, int64_t c,
                                      std::vector<std::vector<double>>* nll) {
    return model->ScoreWindows(windows, c, nll);
  };
  ASSIGN_OR_RETURN(const accuracy::PerplexityResult ref,
                   accuracy::ComputePerplexity(tokens, plan, batch, score, &context, 0.05, 0.5));

  // Fake quantization: every selected weight goes through QuantizeTensor + DequantizeTensor,
  // the library's exact encode and decode.
  double bits_sum = 0, signal = 0, noise = 0;
  int64_t num_weights = 0;
  int64_t group_for_cost = 0;
  RETURN_IF_ERROR(model->TransformWeights(
      [&](const TensorSpec& spec) { return IsQuantized(spec, config, p.quantize_head); },
      [&](const TensorSpec& spec, std::vector<float>* values) -> Status {
        const int64_t rows = spec.shape[0], cols = spec.shape[1];
        ASSIGN_OR_RETURN(const datatypes::QuantizedTensor q,
                         datatypes::QuantizeTensor(quantizer, values->data(), rows, cols, threads));
        const std::vector<float> decoded = datatypes::DequantizeTensor(quantizer, q, threads);
        for (size_t i = 0; i < decoded.size(); ++i) {
          const double w = (*values)[i], e = w - decoded[i];
          signal += w * w;
          noise += e * e;
        }
        *values = decoded;
        const int64_t n = rows * cols;
        bits_sum +=
            datatypes::BitsPerWeight(quantizer.traits(), q.group_size) * static_cast<double>(n);
        num_weights += n;
        group_for_cost = std::max(group_for_cost, q.group_size);
        return Status::Ok();
      },
      &context));
  context.ReportProgress(0.55);
  ASSIGN_OR_RETURN(const accuracy::PerplexityResult quant,
                   accuracy::ComputePerplexity(tokens, plan, batch, score, &context, 0.55, 1.0));

  JobOutput out;
  AddMetric(out, "perplexity", quant.perplexity, "", false);
  AddMetric(out, "perplexity_ref", ref.perplexity, "", false);
  const accuracy::NllIncrease increase = accuracy::PairedNllIncrease(plan, ref, quant);
  out.metrics.push_back(
      {"nll_increase", increase.mean, "nats/token", increase.stderr_value, false});
  AddMetric(out, "tokens_per_s", quant.tokens_per_s, "tokens/s", true);
  AddMetric(out, "bits_per_weight",
            num_weights > 0 ? bits_sum / static_cast<double>(num_weights) : 0, "bits", false);
  AddMetric(
      out, "hw_cost",
      datatypes::EstimateHardwareCost(quantizer, std::max<int64_t>(1, group_for_cost)).relative, "",
      false);
  // A lossless datatype has no finite SQNR: the metric is left out rather than stored as a
  // made-up number; the exact reconstruction shows as zero_weight_error.
  if (noise > 0) {
    AddMetric(out, "weight_sqnr_db", 10.0 * std::log10(signal / noise), "dB", true);
  } else {
    AddMetric(out, "zero_weight_error", 1.0, "", false);
  }
  AddMetric(out, "num_quantized_weights", static_cast<double>(num_weights), "", false);
  AddMetric(out, "scored_tokens", static_cast<double>(plan.scored_positions), "", false);
  AddMetric(out, "context", static_cast<double>(ctx), "tokens", false);
  context.ReportProgress(1.0);
  return out;
}

}  // namespace qlab
