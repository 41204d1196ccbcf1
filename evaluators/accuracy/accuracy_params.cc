// Accuracy job params (see accuracy_params.h, accuracy_job.h). nlohmann exceptions never leave
// this file: every access is type-checked first.
#include "evaluators/accuracy/accuracy_params.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <string_view>
#include <utility>
#include <vector>

#include "common/param_keys.h"
#include "evaluators/accuracy/accuracy_job.h"
#include "evaluators/datatypes/quantize_job.h"

namespace qlab::accuracy {
namespace {

using nlohmann::json;

constexpr std::string_view kKnownKeys[] = {"model",        "text",    "tokenizer",     "tokens",
                                           "context",      "stride",  "datatype",      "group_size",
                                           "scale_search", "sf4_nu",  "quantize_head", "device",
                                           "dtype",        "threads", "max_tokens",    "batch"};

// Names people plausibly use for a known key.
constexpr std::pair<std::string_view, std::string_view> kAliases[] = {
    {"checkpoint", "model"},
    {"model_path", "model"},
    {"data", "text"},
    {"tokenizer_model", "tokenizer"},
    {"spm", "tokenizer"},
    {"token_file", "tokens"},
    {"seq_len", "context"},
    {"context_length", "context"},
    {"ctx", "context"},
    {"window", "context"},
    {"format", "datatype"},
    {"data_type", "datatype"},
    {"groupsize", "group_size"},
    {"group", "group_size"},
    {"block_size", "group_size"},
    {"clip_search", "scale_search"},
    {"quantize_lm_head", "quantize_head"},
    {"num_threads", "threads"},
    {"batch_size", "batch"},
    {"precision", "dtype"}};

Status CheckKeys(const json& params) {
  return CheckParamKeys(params, kKnownKeys, kAliases, /*reject_other_unknown=*/true, "an accuracy");
}

}  // namespace

StatusOr<AccuracyParams> ParseAccuracyParams(const json& params) {
  if (!params.is_object()) return Status::InvalidArgument("params must be a JSON object");
  RETURN_IF_ERROR(CheckKeys(params));
  AccuracyParams p;

  RETURN_IF_ERROR(ReadStringParam(params, "model", &p.model));
  if (p.model.empty()) {
    return Status::InvalidArgument(
        "model: required (a llama2.c checkpoint file or a Hugging Face model folder)");
  }
  RETURN_IF_ERROR(ReadStringParam(params, "text", &p.text));
  RETURN_IF_ERROR(ReadStringParam(params, "tokenizer", &p.tokenizer));
  RETURN_IF_ERROR(ReadStringParam(params, "tokens", &p.tokens));
  if (!p.tokens.empty() && (!p.text.empty() || !p.tokenizer.empty())) {
    return Status::InvalidArgument(
        "tokens: give either tokens (a token file) or text with tokenizer, not both");
  }
  if (p.tokens.empty()) {
    if (p.text.empty() && p.tokenizer.empty()) {
      return Status::InvalidArgument(
          "evaluation data required: text (with tokenizer) or tokens (int32 token file)");
    }
    if (p.text.empty()) return Status::InvalidArgument("text: required with tokenizer");
    if (p.tokenizer.empty()) {
      return Status::InvalidArgument("tokenizer: required with text (a SentencePiece .model)");
    }
  }

  RETURN_IF_ERROR(ReadIntParam(params, "context", 2, int64_t{1} << 20, &p.context));
  RETURN_IF_ERROR(ReadIntParam(params, "stride", 1, int64_t{1} << 20, &p.stride));
  if (p.context > 0 && p.stride > p.context) {
    return Status::InvalidArgument("stride: must be <= context (" + std::to_string(p.context) +
                                   "), got " + std::to_string(p.stride));
  }

  RETURN_IF_ERROR(datatypes::ReadQuantizerParams(params, &p.datatype, &p.quantizer));
  RETURN_IF_ERROR(ReadBoolParam(params, "quantize_head", &p.quantize_head));

  RETURN_IF_ERROR(ReadStringParam(params, "device", &p.device));
  if (p.device == "cuda") p.device = "cuda:0";
  const bool cuda_index =
      p.device.rfind("cuda:", 0) == 0 && p.device.size() > 5 && p.device.size() <= 8 &&
      std::all_of(p.device.begin() + 5, p.device.end(),
                  [](char c) { return std::isdigit(static_cast<unsigned char>(c)) != 0; });
  if (p.device != "cpu" && !cuda_index) {
    return Status::InvalidArgument("device: must be cpu, cuda or cuda:N, got '" + p.device + "'");
  }
  RETURN_IF_ERROR(ReadStringParam(params, "dtype", &p.dtype));
  if (p.dtype != "float32" && p.dtype != "float16" && p.dtype != "bfloat16") {
    return Status::InvalidArgument("dtype: must be float32, float16 or bfloat16, got '" + p.dtype +
                                   "'");
  }
  int64_t threads = 0, batch = 0;
  RETURN_IF_ERROR(ReadIntParam(params, "threads", 0, 1024, &threads));
  RETURN_IF_ERROR(ReadIntParam(params, "max_tokens", 0, int64_t{1} << 40, &p.max_tokens));
  RETURN_IF_ERROR(ReadIntParam(params, "batch", 0, 4096, &batch));
  p.threads = static_cast<int>(threads);
  p.batch = static_cast<int>(batch);
  if (p.max_tokens > 0 && p.context > 0 && p.max_tokens < p.context) {
    return Status::InvalidArgument("max_tokens: " + std::to_string(p.max_tokens) +
                                   " is shorter than one window of context " +
                                   std::to_string(p.context));
  }
  return p;
}

}  // namespace qlab::accuracy

namespace qlab {

Status ValidateAccuracyParams(const nlohmann::json& params) {
  return accuracy::ParseAccuracyParams(params).status();
}

}  // namespace qlab
