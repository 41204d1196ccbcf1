// Parameters of an `accuracy` job (DESIGN.md section 10), parsed and checked without LibTorch
// and without touching the file system, so the server can refuse a bad sweep at submit time.
// The keys are listed in accuracy_job.h.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "evaluators/datatypes/quantizer.h"
#include "evaluators/datatypes/registry.h"

namespace qlab::accuracy {

// One entry of a per-tensor map (`datatype` or `group_size` given as {tensor-name glob: value}).
template <typename T>
struct TensorPatternRule {
  std::string pattern;  // a tensor name or a glob over names (`*`, `?`; common/glob.h)
  T value;
};

// How one quantizable tensor is stored by a job.
struct TensorFormat {
  bool keep = false;  // left as loaded (`fp32` / `keep`): no quantization
  datatypes::Datatype datatype = datatypes::Datatype::kInt4Asym;
  datatypes::QuantizerOptions quantizer;
};

struct AccuracyParams {
  std::string model;      // llama2.c file or Hugging Face folder
  std::string text;       // evaluation text (with tokenizer), or empty
  std::string tokenizer;  // SentencePiece .model, or empty
  std::string tokens;     // raw int32 token file, or empty
  int64_t context = 0;    // 0: the model's max_seq_len
  int64_t stride = 0;     // 0: equal to the context
  datatypes::Datatype datatype = datatypes::Datatype::kInt4Asym;
  datatypes::QuantizerOptions quantizer;  // group_size (-1 default), scale_search, sf4_nu
  bool quantize_head = false;
  std::string device = "cpu";     // "cpu" or "cuda:N" (normalised)
  std::string dtype = "float32";  // "float32", "float16", "bfloat16"
  int threads = 0;                // 0: every core
  int64_t max_tokens = 0;         // 0: the whole evaluation stream
  int batch = 0;                  // windows per forward pass; 0: automatic
  // `datatype: fp32` (or `keep`) as a string: no tensor is quantized (a baseline point).
  bool keep_all = false;
  // Non-empty when `datatype` / `group_size` are maps; `datatype` and `quantizer.group_size`
  // above then hold the defaults the maps fall back on (group_size) or none (datatype: a
  // quantizable tensor no pattern matches is an error). nullopt value: keep the tensor.
  std::vector<TensorPatternRule<std::optional<datatypes::Datatype>>> datatype_rules;
  std::vector<TensorPatternRule<int64_t>> group_size_rules;
};

// Bounds on the per-tensor maps: a map is read before anything is allocated for it.
inline constexpr size_t kMaxTensorPatternRules = 4096;
inline constexpr size_t kMaxTensorPatternLength = 256;

// Parses and checks params. INVALID_ARGUMENT naming the field (and suggesting the intended key
// for a misspelled one). Thread-safe; opens no file.
StatusOr<AccuracyParams> ParseAccuracyParams(const nlohmann::json& params);

// The format of the quantizable tensor `name` (a Hugging Face name, checkpoint.h). The most
// specific matching pattern of a map wins: the exact name, else the glob with the most literal
// (non-wildcard) characters. JSON objects carry no order, so "first written" cannot be honoured
// across the service; two equally specific patterns that match and disagree are an error rather
// than a silent pick. INVALID_ARGUMENT naming the field and the tensor when the `datatype` map
// has no pattern for it; an unmatched `group_size` map falls back on the datatype's default.
StatusOr<TensorFormat> ResolveTensorFormat(const AccuracyParams& params, std::string_view name);

}  // namespace qlab::accuracy
