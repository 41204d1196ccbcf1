// Plain records the storage layer reads and writes. No protobuf here: the server converts
// between these and qlab.v1 messages, so storage stays usable from tools and tests alone.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "common/job_output.h"

namespace qlab::storage {

// Numeric values equal qlab.v1.JobState.
enum class JobState : int {
  kPending = 1,
  kLeased = 2,
  kRunning = 3,
  kSucceeded = 4,
  kFailed = 5,
  kCancelled = 6,
};
inline bool IsTerminal(JobState s) {
  return s == JobState::kSucceeded || s == JobState::kFailed || s == JobState::kCancelled;
}
const char* JobStateName(JobState s);  // "PENDING", ...

struct Requirements {
  int device_class = 0;                // qlab.v1.DeviceClass value; 0 = any
  std::string device_model_pattern;    // glob; "" = any
  uint64_t min_memory_bytes = 0;
  bool exclusive = false;
  // The datatype the job runs and whether it needs a native kernel for it (kernel_bench) or
  // runs it emulated too (quantize, accuracy); matched against the devices' capability
  // matrices. Not stored: derived from the params (server/matching.h FormatRequirement).
  std::string format;
  bool native_format = false;
};

struct JobSpec {
  std::string kind;
  std::string params_json;
  Requirements requirements;
  int priority = 0;
  int max_attempts = 3;
  int timeout_s = 0;                   // the worker kills an attempt running longer; 0 = none
};

// Why an attempt failed, which decides whether the job runs again (DESIGN.md §5).
//   job_error       the job itself is wrong (params, input file, timeout): FAILED, no retry.
//   crash           the evaluator died (signal, abort, out of memory): retried; after
//                   max_attempts crashes the job is FAILED as poison.
//   infrastructure  not the job's fault (worker lost, lease expired, disk full): retried
//                   without spending max_attempts, up to the server's infrastructure limit.
inline constexpr const char* kJobError = "job_error";
inline constexpr const char* kCrash = "crash";
inline constexpr const char* kPoison = "poison";
inline constexpr const char* kInfrastructure = "infrastructure";

// What a succeeded job's figure depends on (migration 0005): the keys hash context_json.
struct Comparability {
  std::string comparability_key;   // kind + canonical params + environment_key
  std::string environment_key;     // context_json without its "kernel" part
  std::string context_json;
  std::string backend;             // native | emulated | fallback | vendor | ""
};

struct JobRecord {
  int64_t id = 0;
  int64_t experiment_id = 0;
  std::string experiment;
  JobSpec spec;
  JobState state = JobState::kPending;
  int attempts = 0;
  int64_t live_token = 0;              // 0 = no live lease
  std::string worker_id;
  std::string last_error;
  std::string failure_class;           // "" unless FAILED: job_error | poison | infrastructure
  int infra_failures = 0;              // attempts lost to infrastructure (not counted in attempts)
  int64_t created_unix_ms = 0, started_unix_ms = 0, finished_unix_ms = 0;
  Comparability comparability;         // set when it SUCCEEDED on a worker reporting its context
  std::string flag;                    // why its figure is suspect; "" = nothing known
};

struct AttemptRecord {
  int64_t token = 0;
  int64_t job_id = 0;
  std::string worker_id;
  int64_t leased_unix_ms = 0, started_unix_ms = 0, finished_unix_ms = 0;
  int64_t lease_expiry_unix_ms = 0;
  std::string outcome;
  std::string error;
  std::string failure_class;           // "" unless failed: job_error | crash | infrastructure
  int64_t log_bytes = 0;               // size of the attempt's stored log
};

struct ExperimentRecord {
  int64_t id = 0;
  std::string name, owner, kind;
  int64_t created_unix_ms = 0;
  std::string spec_json;
  std::string tags_json = "[]";
  // Counts by state, filled by reads.
  int64_t total = 0, pending = 0, running = 0, succeeded = 0, failed = 0, cancelled = 0;
};

struct WorkerRecord {
  std::string id, host;
  std::string devices_json = "[]", kinds_json = "[]", labels_json = "{}";
  int slots = 1;
  std::string version;
  int64_t registered_unix_ms = 0, last_heartbeat_unix_ms = 0;
};

// A job with its metrics, as `qlab results` shows it.
struct ResultRow {
  int64_t job_id = 0;
  std::string experiment, kind, params_json, last_error;
  JobState state = JobState::kPending;
  std::vector<Metric> metrics;
  std::string comparability_key, environment_key, backend, flag;
};

struct LeaseGrant {
  int64_t job_id = 0;
  int64_t token = 0;
  std::string worker_id;
  int64_t expiry_unix_ms = 0;
  std::string device;                  // Device.name the job runs on
};

enum class CompletionOutcome { kSucceeded, kFailed, kReleased };

struct CompletionRecord {
  int64_t job_id = 0;
  int64_t token = 0;
  CompletionOutcome outcome = CompletionOutcome::kSucceeded;
  std::string error;
  std::string failure_class;           // for kFailed: job_error (default) | crash | infrastructure
  std::string log;                     // the attempt's output tail; replaces what was streamed
  JobOutput output;
  Comparability comparability;         // for kSucceeded: stored on the job
  int64_t started_unix_ms = 0, finished_unix_ms = 0;
};

struct CompletionAck {
  int64_t job_id = 0;
  bool accepted = false;
  std::string reason;
  JobState new_state = JobState::kPending;  // when accepted
  bool attempt_refunded = false;        // the attempt did not count toward max_attempts
  std::string failure_class;            // of the job when it ended FAILED
};

// The result of returning an expired lease's job to the queue.
struct ExpiryOutcome {
  int64_t job_id = 0;
  bool applied = false;                  // false when the lease was no longer live
  JobState new_state = JobState::kPending;
};

// One drift-canary measurement of a worker's device and how it was judged.
struct CanaryRecord {
  int64_t id = 0;
  std::string worker_id, device, canary;
  int64_t measured_unix_ms = 0;
  double median_us = 0;
  std::vector<double> samples_us;
  double baseline_median_us = 0, baseline_spread_us = 0, z = 0;
  std::string verdict;                 // baseline | ok | drift
};

// Canaries kept per worker device: at the default 10-minute interval, about two weeks.
inline constexpr int64_t kMaxCanariesPerDevice = 2000;

// The largest log kept per attempt: its last bytes.
inline constexpr size_t kMaxAttemptLogBytes = 1 << 20;

struct JobFilter {
  std::string experiment;  // "" = any
  int state = 0;           // JobState value; 0 = any
  std::string kind;        // "" = any
  std::string expression;  // filter expression (storage/filter_expression.h); "" = none
};

// A latency sample set without its raw samples, for lists and exports.
struct LatencySummary {
  int64_t job_id = 0;
  std::string arch_key, device;
  int batch = 1;
  double median_us = 0, mean_us = 0, p10_us = 0, p90_us = 0, min_us = 0, cv = 0;
  bool unstable = false;
  int64_t samples = 0;            // number of raw samples
  std::vector<double> samples_us; // the raw samples, only when asked for
};

}  // namespace qlab::storage
