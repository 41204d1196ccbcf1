// The accuracy job (see accuracy_job.h): params -> checkpoint and token stream (all checks
// that need no weights first) -> model -> reference pass -> fake quantization with the datatype
// library's exact encode/decode -> quantized pass -> metrics. LibTorch-free: the model lives
// behind llama_model.h.
#include "evaluators/accuracy/accuracy_job.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <optional>
#include <thread>

#include "evaluators/accuracy/accuracy_params.h"
#include "evaluators/accuracy/checkpoint.h"
#include "evaluators/accuracy/llama_model.h"
#include "evaluators/accuracy/perplexity.h"
#include "evaluators/accuracy/reference_cache.h"
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

bool IsQuantizable(const TensorSpec& spec, const ModelConfig& config, bool quantize_head) {
  if (spec.role == TensorRole::kBlockLinear) return true;
  if (!quantize_head) return false;
  return spec.role == TensorRole::kHead ||
         (config.shared_classifier && spec.role == TensorRole::kEmbedding);
}

// One quantizable tensor as this job stores it.
struct TensorPlan {
  std::string name;
  int64_t rows = 0, cols = 0;
  std::optional<datatypes::Quantizer> quantizer;  // absent: kept as loaded
  int64_t group_size = 0;                          // of the quantizer, resolved for `cols`
  double bits_per_weight = 0;                      // storage, scales and metadata included
  double hw_cost = 0;                              // relative MAC-lane area (hw_cost.h)
};

// Storage bits of a weight kept as loaded.
double KeptBits(const std::string& dtype) { return dtype == "float32" ? 32 : 16; }

// The lane cost of a kept weight: the cost model's widest operand (its activations are FP16).
StatusOr<double> KeptHardwareCost(const std::string& dtype, int64_t cols) {
  const datatypes::DatatypeTraits* traits = datatypes::FindDatatype(dtype == "bfloat16" ? "bf16" : "fp16");
  if (traits == nullptr) return Status::Internal("the datatype registry has no fp16/bf16");
  ASSIGN_OR_RETURN(const datatypes::Quantizer q, datatypes::Quantizer::Create(traits->type, {}));
  return datatypes::EstimateHardwareCost(q, cols).relative;
}

StatusOr<std::vector<TensorPlan>> PlanTensors(const AccuracyParams& p,
                                              const std::vector<TensorSpec>& specs,
                                              const ModelConfig& config) {
  std::vector<TensorPlan> plans;
  for (const TensorSpec& spec : specs) {
    if (!IsQuantizable(spec, config, p.quantize_head)) continue;
    ASSIGN_OR_RETURN(const accuracy::TensorFormat format,
                     accuracy::ResolveTensorFormat(p, spec.name));
    TensorPlan plan;
    plan.name = spec.name;
    plan.rows = spec.shape[0];
    plan.cols = spec.shape[1];
    if (format.keep) {
      plan.bits_per_weight = KeptBits(p.dtype);
      ASSIGN_OR_RETURN(plan.hw_cost, KeptHardwareCost(p.dtype, plan.cols));
      plans.push_back(std::move(plan));
      continue;
    }
    ASSIGN_OR_RETURN(datatypes::Quantizer quantizer,
                     datatypes::Quantizer::Create(format.datatype, format.quantizer));
    auto group = quantizer.GroupSizeFor(plan.cols);
    if (!group.ok()) {
      return Status::InvalidArgument("group_size: " + group.status().message() + " (tensor '" +
                                     spec.name + "', shape [" + std::to_string(plan.rows) + ", " +
                                     std::to_string(plan.cols) + "])");
    }
    plan.group_size = *group;
    plan.bits_per_weight = datatypes::BitsPerWeight(quantizer.traits(), plan.group_size);
    plan.hw_cost = datatypes::EstimateHardwareCost(quantizer, std::max<int64_t>(1, plan.group_size))
                       .relative;
    plan.quantizer.emplace(std::move(quantizer));
    plans.push_back(std::move(plan));
  }
  return plans;
}

struct StorageTotals {
  double bits_per_weight = 0;  // over every quantizable weight, kept ones at their dtype's width
  double bytes = 0;
  double hw_cost = 0;  // weighted by multiply-accumulates (= weights, once per token)
};

StorageTotals SumStorage(const std::vector<TensorPlan>& plans) {
  StorageTotals totals;
  double weights = 0, bits = 0, cost = 0;
  for (const TensorPlan& plan : plans) {
    const double n = static_cast<double>(plan.rows) * static_cast<double>(plan.cols);
    weights += n;
    bits += plan.bits_per_weight * n;
    cost += plan.hw_cost * n;
  }
  if (weights > 0) {
    totals.bits_per_weight = bits / weights;
    totals.hw_cost = cost / weights;
  }
  totals.bytes = bits / 8;
  return totals;
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

  // Every quantized tensor's format, quantizer and group size, before any weight is read.
  ASSIGN_OR_RETURN(const std::vector<TensorPlan> tensor_plans,
                   PlanTensors(p, accuracy::RequiredTensors(config), config));
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
  // The unquantized pass depends on none of the formats: a sweep's jobs share it.
  const std::string reference_key =
      nlohmann::json{{"model", accuracy::FileIdentity(p.model)},
                     {"tokens", p.tokens.empty() ? "" : accuracy::FileIdentity(p.tokens)},
                     {"text", p.text.empty() ? "" : accuracy::FileIdentity(p.text)},
                     {"tokenizer", p.tokenizer.empty() ? "" : accuracy::FileIdentity(p.tokenizer)},
                     {"max_tokens", p.max_tokens},
                     {"context", ctx},
                     {"stride", stride},
                     {"dtype", p.dtype},
                     {"device", p.device},
                     {"batch", batch},
                     {"threads", threads},
                     {"build", accuracy::BuildIdentity()}}
          .dump();
  accuracy::ReferenceCache& cache = accuracy::ReferenceCache::Global();
  std::optional<accuracy::PerplexityResult> cached = cache.Find(reference_key);
  if (!cached.has_value()) {
    ASSIGN_OR_RETURN(accuracy::PerplexityResult computed,
                     accuracy::ComputePerplexity(tokens, plan, batch, score, &context, 0.05, 0.5));
    cache.Insert(reference_key, computed);
    cached = std::move(computed);
  }
  const accuracy::PerplexityResult& ref = *cached;

  // Fake quantization: every selected weight goes through QuantizeTensor + DequantizeTensor,
  // the library's exact encode and decode.
  std::map<std::string, const TensorPlan*> plan_of;
  for (const TensorPlan& plan_entry : tensor_plans) plan_of[plan_entry.name] = &plan_entry;
  double signal = 0, noise = 0;
  int64_t num_weights = 0;
  RETURN_IF_ERROR(model->TransformWeights(
      [&](const TensorSpec& spec) {
        const auto it = plan_of.find(spec.name);
        return it != plan_of.end() && it->second->quantizer.has_value();
      },
      [&](const TensorSpec& spec, std::vector<float>* values) -> Status {
        const datatypes::Quantizer& quantizer = *plan_of.at(spec.name)->quantizer;
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
        num_weights += rows * cols;
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
  const StorageTotals storage = SumStorage(tensor_plans);
  AddMetric(out, "bits_per_weight", storage.bits_per_weight, "bits", false);
  AddMetric(out, "weight_bytes", storage.bytes, "bytes", false);
  AddMetric(out, "hw_cost", storage.hw_cost, "", false);
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
  // Provenance: no packed kernel runs here; the datatype is simulated (weights quantized and
  // decoded to FP32, then LibTorch's FP32 matmuls on the job's device).
  out.context_json = nlohmann::json{{"kernel", {{"name", "dequantized_fp32_matmul"},
                                                {"backend", "emulated"},
                                                {"path", "libtorch " + p.device}}},
                                    {"runtime", {{"threads", threads}}}}.dump();
  context.ReportProgress(1.0);
  return out;
}

}  // namespace qlab
