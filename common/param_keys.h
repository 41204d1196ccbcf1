// Checks the keys of a job's JSON params against the keys its evaluator knows, so that a typo
// ("grop_size") is refused with a suggestion instead of silently falling back to a default; and
// reads typed optional fields with errors that start with the field's name.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/status.h"

namespace qlab {

// OK when every key of `params` is in `known`. A key that is a known alias, or within a small
// edit distance of a known key, is INVALID_ARGUMENT "unknown field 'x'; did you mean 'y'?".
// Other unknown keys are INVALID_ARGUMENT naming `job_kind` when `reject_other_unknown`, and
// ignored otherwise.
Status CheckParamKeys(const nlohmann::json& params, std::span<const std::string_view> known,
                      std::span<const std::pair<std::string_view, std::string_view>> aliases,
                      bool reject_other_unknown, std::string_view job_kind);

// Typed readers of one optional field. An absent or null field leaves *out untouched and is OK;
// a present one of the wrong type or range is INVALID_ARGUMENT "key: must be ..., got <json>".
// Integers accept integral floats (YAML may give 128.0).
Status ReadIntParam(const nlohmann::json& params, const char* key, int64_t lo, int64_t hi,
                    int64_t* out);
Status ReadIntParam(const nlohmann::json& params, const char* key, int64_t lo, int64_t hi,
                    int* out);  // REQUIRES: [lo, hi] within int's range
// The same check of one value, e.g. a list element named "source_batches[2]" in errors.
Status ReadIntValue(const nlohmann::json& value, const std::string& name, int64_t lo, int64_t hi,
                    int64_t* out);
Status ReadNumberParam(const nlohmann::json& params, const char* key, double lo, double hi,
                       double* out);
// A non-empty string.
Status ReadStringParam(const nlohmann::json& params, const char* key, std::string* out);
Status ReadBoolParam(const nlohmann::json& params, const char* key, bool* out);
// A non-empty string, or a list of them (a single string is a list of one).
Status ReadStringListParam(const nlohmann::json& params, const char* key,
                           std::vector<std::string>* out);

}  // namespace qlab
