// Shared by the stores of one SQLite file (job_store*.cc, study_store.cc): row writers, job
// state codes as stored, filter binding and the pooled read connection. Internal to storage/:
// writers hold the write connection inside a WriteQueue transaction.
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "common/status.h"
#include "storage/filter_expression.h"
#include "storage/job_store.h"
#include "storage/records.h"
#include "storage/sqlite.h"

namespace qlab::storage {

// JobState as the `job.state` column holds it.
inline constexpr int kPending = static_cast<int>(JobState::kPending);
inline constexpr int kLeased = static_cast<int>(JobState::kLeased);
inline constexpr int kRunning = static_cast<int>(JobState::kRunning);
inline constexpr int kSucceeded = static_cast<int>(JobState::kSucceeded);
inline constexpr int kFailed = static_cast<int>(JobState::kFailed);
inline constexpr int kCancelled = static_cast<int>(JobState::kCancelled);

// Inserts PENDING jobs of `experiment_id` and counts them in job_count; *first_id receives
// the first one's id (the ids are consecutive). The one writer of job rows.
Status InsertJobs(Connection& c, int64_t experiment_id, const std::vector<JobSpec>& specs,
                  int64_t now_ms, int64_t* first_id);
// Inserts an experiment; ALREADY_EXISTS (naming it) when the name is taken.
Status InsertExperiment(Connection& c, const ExperimentRecord& e, int64_t now_ms, int64_t* id);

// Ends the live attempt of a lease with an outcome (and the failure class of a failed one).
Status FinishAttempt(Connection& c, int64_t token, const std::string& outcome,
                     const std::string& error, const std::string& failure_class,
                     int64_t started_ms, int64_t finished_ms);

// A samples column (`latency_sample.samples_us`, `canary.samples_us`): native doubles, back to
// back.
std::vector<double> SamplesFromBlob(const std::string& blob);

// The last kMaxAttemptLogBytes of `log`.
std::string LogTail(std::string log);
// Stores `log`'s tail as the whole log of attempt `token`, replacing what was streamed.
Status ReplaceAttemptLog(Connection& c, int64_t token, int64_t job_id, const std::string& log);

// Binds a compiled filter's named parameters that `s` uses.
void BindCompiled(Statement* s, const CompiledFilter& compiled);

// A read connection borrowed from the pool for one call.
class JobStore::ReaderLease {
 public:
  ReaderLease(JobStore* store, std::unique_ptr<Connection> conn, Status status)
      : store_(store), conn_(std::move(conn)), status_(std::move(status)) {}
  ReaderLease(ReaderLease&&) = default;
  ~ReaderLease() {
    if (conn_) {
      std::lock_guard lock(store_->readers_mu_);
      store_->idle_readers_.push_back(std::move(conn_));
    }
  }
  const Status& status() const { return status_; }
  Connection& operator*() { return *conn_; }

 private:
  JobStore* store_;
  std::unique_ptr<Connection> conn_;
  Status status_;
};

// Borrows a read connection as `name` for the rest of the scope (in JobStore methods).
#define WITH_READER(name)              \
  ReaderLease name##_lease = Reader(); \
  RETURN_IF_ERROR(name##_lease.status()); \
  Connection& name = *name##_lease

}  // namespace qlab::storage
