// JobOutput and Status as JSON: how a `qlab-evaluate` child hands its result to the worker
// daemon (worker/child_evaluator.h). Artifacts' bytes travel base64-encoded.
#pragma once

#include <nlohmann/json.hpp>

#include "common/job_output.h"
#include "common/status.h"

namespace qlab {

nlohmann::json JobOutputToJson(const JobOutput& output);
// INVALID_ARGUMENT naming the first malformed field; never throws.
StatusOr<JobOutput> JobOutputFromJson(const nlohmann::json& json);

// {"code": "INVALID_ARGUMENT", "message": "..."}
nlohmann::json StatusToJson(const Status& status);
// The Status written by StatusToJson; INTERNAL for anything else.
Status StatusFromJson(const nlohmann::json& json);

std::string Base64Encode(std::string_view bytes);
// INVALID_ARGUMENT for a character outside the alphabet or a bad length.
StatusOr<std::string> Base64Decode(std::string_view text);

}  // namespace qlab
