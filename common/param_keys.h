// Checks the keys of a job's JSON params against the keys its evaluator knows, so that a typo
// ("grop_size") is refused with a suggestion instead of silently falling back to a default.
#pragma once

#include <span>
#include <string_view>
#include <utility>

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

}  // namespace qlab
