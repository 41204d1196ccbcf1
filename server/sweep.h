// Sweep files: a name, a kind, fixed params and axes whose cartesian product is the set of
// jobs (DESIGN.md §10). Expansion happens on the server, so a 10,000-job sweep is one request.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/status.h"
#include "server/study_spec.h"
#include "storage/records.h"

namespace qlab::server {

struct ExpandedSweep {
  storage::ExperimentRecord experiment;   // name, kind, spec_json, tags_json, owner
  std::vector<storage::JobSpec> jobs;     // in product order: the first axis varies slowest
  // A sweep with `search` is a study: no jobs up front, the study runner proposes them.
  std::optional<StudySpec> study;
};

// Parses and validates `sweep_json`, expands it, and validates every job's params.
// INVALID_ARGUMENT naming the field for malformed JSON, a missing name or kind, an unknown
// kind, a non-list or empty axis, an axis that repeats a param, more than `max_jobs` jobs, or
// bad params of any point (the message names the point).
StatusOr<ExpandedSweep> ExpandSweep(const std::string& sweep_json, int64_t max_jobs);

struct JobKind;

// The jobs of one sweep point (several when the kind expands a point), validated, with the
// sweep's requirements (an object or null) merged over the kind's. INVALID_ARGUMENT naming the
// field.
StatusOr<std::vector<storage::JobSpec>> SpecsForPoint(const JobKind& kind,
                                                      const nlohmann::ordered_json& point,
                                                      const nlohmann::ordered_json& requirements,
                                                      int priority, int max_attempts);

// Builds the JobSpec of a single job (SubmitJob), with the same validation.
StatusOr<storage::JobSpec> MakeJobSpec(const std::string& kind, const std::string& params_json,
                                       const storage::Requirements& explicit_requirements,
                                       int priority, int max_attempts, int timeout_s = 0);

// The longest `timeout_s` a sweep or job may ask for: 30 days.
inline constexpr int kMaxTimeoutSeconds = 30 * 24 * 3600;

}  // namespace qlab::server
