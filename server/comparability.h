// Comparability keys (README "Can I trust this number?"): what makes two figures the same
// measurement, and what tells two set-ups apart.
//
// A worker reports with each success the facts its figure depends on besides the params
// (worker/run_context.h). The coordinator hashes them here, in one place:
//   environment_key   = H(context without "kernel")        what Pareto fronts and joins group by
//   comparability_key = H(kind, canonical params, context)  the same measurement
// H is SHA-256 over canonical JSON (sorted keys, integral floats as integers), shown as its
// first 16 hex digits.
#pragma once

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/status.h"
#include "storage/records.h"

namespace qlab::server {

// The largest context a worker may report.
inline constexpr size_t kMaxContextBytes = 64 * 1024;

// `v` with floats of integral value as integers (inside arrays and objects too), so that 128 and
// 128.0 print alike; objects print with sorted keys.
nlohmann::json CanonicalJson(const nlohmann::json& v);

// What identifies a job of a sweep for resubmission: kind, canonical params and requirements.
std::string JobIdentity(const storage::JobSpec& spec);

// The keys of a success. INVALID_ARGUMENT naming context_json when it is larger than
// kMaxContextBytes, nests deeper than kMaxJsonNesting or is not a JSON object. An empty context
// gives empty keys (a worker that does not report one).
StatusOr<storage::Comparability> ComputeComparability(const std::string& kind,
                                                      const std::string& params_json,
                                                      const std::string& context_json);

// A short text telling an environment apart: device model, CPU, runtime and build.
std::string ContextSummary(const std::string& context_json);

// Leaves of two contexts that differ ("device.driver": "535.1" vs "550.2"), kernel part
// included, sorted by field. A field only one side has shows "" on the other.
struct ContextDifference {
  std::string field, a, b;
};
std::vector<ContextDifference> DiffContexts(const std::string& a_json, const std::string& b_json);

}  // namespace qlab::server
