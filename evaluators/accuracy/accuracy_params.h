// Parameters of an `accuracy` job (DESIGN.md section 10), parsed and checked without LibTorch
// and without touching the file system, so the server can refuse a bad sweep at submit time.
// The keys are listed in accuracy_job.h.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>

#include "common/status.h"
#include "evaluators/datatypes/quantizer.h"
#include "evaluators/datatypes/registry.h"

namespace qlab::accuracy {

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
};

// Parses and checks params. INVALID_ARGUMENT naming the field (and suggesting the intended key
// for a misspelled one). Thread-safe; opens no file.
StatusOr<AccuracyParams> ParseAccuracyParams(const nlohmann::json& params);

}  // namespace qlab::accuracy
