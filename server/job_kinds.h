// The job kinds the coordinator accepts: how each is validated at submit time, how one sweep
// point may fan out into several jobs, and which devices it needs by default.
//
// Validation runs on the server so that a bad sweep is refused whole, before anything is
// stored; the evaluators' own checks are reused (they are plain libraries), never rewritten.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/status.h"
#include "storage/records.h"

namespace qlab::server {

struct JobKind {
  std::string name;
  // INVALID_ARGUMENT naming the field when params are unusable.
  std::function<Status(const nlohmann::json& params)> validate;
  // One sweep point -> one or more jobs' params (e.g. a tensor glob -> one job per tensor).
  // Unset: the point itself.
  std::function<StatusOr<std::vector<nlohmann::json>>(const nlohmann::json& params)> expand;
  // Requirements implied by the params (e.g. latency on "cuda:0" needs a CUDA device and is
  // exclusive); the sweep's explicit requirements override these field by field.
  std::function<storage::Requirements(const nlohmann::json& params)> requirements;
};

// NULL for an unknown kind.
const JobKind* FindJobKind(const std::string& name);
std::vector<std::string> JobKindNames();

}  // namespace qlab::server
