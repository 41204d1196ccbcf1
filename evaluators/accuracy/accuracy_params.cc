// Accuracy job params (see accuracy_params.h, accuracy_job.h). nlohmann exceptions never leave
// this file: every access is type-checked first.
#include "evaluators/accuracy/accuracy_params.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <string_view>
#include <utility>
#include <vector>

#include "common/glob.h"
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

// The datatype values that leave a tensor as it was loaded.
bool IsKeep(std::string_view name) { return name == "fp32" || name == "keep"; }

Status CheckPattern(const char* field, const std::string& pattern) {
  if (pattern.empty() || pattern.size() > kMaxTensorPatternLength) {
    return Status::InvalidArgument(std::string(field) + ": a tensor pattern must have 1 to " +
                                   std::to_string(kMaxTensorPatternLength) + " characters");
  }
  return Status::Ok();
}

Status CheckMapSize(const char* field, const json& map) {
  if (map.empty() || map.size() > kMaxTensorPatternRules) {
    return Status::InvalidArgument(std::string(field) + ": a per-tensor map needs 1 to " +
                                   std::to_string(kMaxTensorPatternRules) + " entries, got " +
                                   std::to_string(map.size()));
  }
  return Status::Ok();
}

// `datatype` as {pattern: registry name | fp32 | keep}.
Status ReadDatatypeMap(const json& map, AccuracyParams* p) {
  RETURN_IF_ERROR(CheckMapSize("datatype", map));
  for (const auto& [pattern, value] : map.items()) {
    RETURN_IF_ERROR(CheckPattern("datatype", pattern));
    if (!value.is_string()) {
      return Status::InvalidArgument("datatype['" + pattern + "']: must be a datatype name");
    }
    const std::string name = value.get<std::string>();
    if (IsKeep(name)) {
      p->datatype_rules.push_back({pattern, std::nullopt});
      continue;
    }
    const datatypes::DatatypeTraits* traits = datatypes::FindDatatype(name);
    if (traits == nullptr) {
      return Status::InvalidArgument("datatype['" + pattern + "']: unknown datatype '" + name +
                                     "' (a registry name, fp32 or keep)");
    }
    p->datatype_rules.push_back({pattern, traits->type});
  }
  return Status::Ok();
}

// `group_size` as {pattern: integer >= 0}.
Status ReadGroupSizeMap(const json& map, AccuracyParams* p) {
  RETURN_IF_ERROR(CheckMapSize("group_size", map));
  for (const auto& [pattern, value] : map.items()) {
    RETURN_IF_ERROR(CheckPattern("group_size", pattern));
    int64_t group = -1;
    RETURN_IF_ERROR(
        ReadIntValue(value, "group_size['" + pattern + "']", 0, int64_t{1} << 30, &group));
    p->group_size_rules.push_back({pattern, group});
  }
  return Status::Ok();
}

// Specificity of `pattern` for `name`: -1 when it does not match, the literal character count
// otherwise, an exact name above any glob.
int64_t MatchSpecificity(const std::string& pattern, std::string_view name) {
  if (!GlobMatch(pattern, name)) return -1;
  const int64_t wildcards = std::count(pattern.begin(), pattern.end(), '*') +
                            std::count(pattern.begin(), pattern.end(), '?');
  if (wildcards == 0) return int64_t{1} << 40;
  return static_cast<int64_t>(pattern.size()) - wildcards;
}

// The rule of `rules` that decides `name` (see ResolveTensorFormat), or null when none matches.
template <typename T>
StatusOr<const TensorPatternRule<T>*> MostSpecificRule(const char* field,
                                                       const std::vector<TensorPatternRule<T>>& rules,
                                                       std::string_view name) {
  const TensorPatternRule<T>* best = nullptr;
  int64_t best_score = -1;
  for (const TensorPatternRule<T>& rule : rules) {
    const int64_t score = MatchSpecificity(rule.pattern, name);
    if (score < 0) continue;
    if (score > best_score) {
      best = &rule;
      best_score = score;
    } else if (score == best_score && !(rule.value == best->value)) {
      return Status::InvalidArgument(std::string(field) + ": patterns '" + best->pattern +
                                     "' and '" + rule.pattern + "' both match tensor '" +
                                     std::string(name) +
                                     "' equally and disagree; make one more specific");
    }
  }
  return best;
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

  // Per-tensor maps are read here; the rest of the quantizer options (and a string datatype)
  // by the datatype library's reader, on a copy without the maps.
  json quantizer_params = params;
  if (const auto it = params.find("datatype"); it != params.end() && it->is_object()) {
    RETURN_IF_ERROR(ReadDatatypeMap(*it, &p));
    quantizer_params["datatype"] = "int4_asym";  // placeholder: every tensor has a rule
  } else if (it != params.end() && it->is_string() && IsKeep(it->get<std::string>())) {
    p.keep_all = true;
    quantizer_params["datatype"] = "int4_asym";
  }
  if (const auto it = params.find("group_size"); it != params.end() && it->is_object()) {
    RETURN_IF_ERROR(ReadGroupSizeMap(*it, &p));
    quantizer_params.erase("group_size");
  }
  RETURN_IF_ERROR(datatypes::ReadQuantizerParams(quantizer_params, &p.datatype, &p.quantizer));
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

StatusOr<TensorFormat> ResolveTensorFormat(const AccuracyParams& params, std::string_view name) {
  TensorFormat format;
  format.quantizer = params.quantizer;
  format.datatype = params.datatype;
  if (params.keep_all) {
    format.keep = true;
    return format;
  }
  if (!params.datatype_rules.empty()) {
    ASSIGN_OR_RETURN(const auto* rule, MostSpecificRule("datatype", params.datatype_rules, name));
    if (rule == nullptr) {
      return Status::InvalidArgument("datatype: no pattern of the map matches tensor '" +
                                     std::string(name) +
                                     "' (give it a datatype, or fp32 / keep to leave it)");
    }
    if (!rule->value.has_value()) {
      format.keep = true;
      return format;
    }
    format.datatype = *rule->value;
  }
  if (!params.group_size_rules.empty()) {
    ASSIGN_OR_RETURN(const auto* rule,
                     MostSpecificRule("group_size", params.group_size_rules, name));
    format.quantizer.group_size = rule != nullptr ? rule->value : -1;
  }
  return format;
}

}  // namespace qlab::accuracy

namespace qlab {

Status ValidateAccuracyParams(const nlohmann::json& params) {
  return accuracy::ParseAccuracyParams(params).status();
}

}  // namespace qlab
