// Scheduler: the coordinator's in-memory view of unfinished jobs and live workers, kept in
// step with the JobStore.
//
// The SQLite file is the truth; memory is an index rebuilt from it at start-up (Start()).
// Every state change is written first and applied to memory only after it committed, and
// memory updates are conditioned on the fencing token, so a race between a completion, an
// expiry and a cancellation is decided by the database transaction alone (see JobStore).
//
// Thread-safe. Long-polling AcquireLeases calls block on a condition variable that every
// submission, completion, expiry and cancellation signals.
#pragma once

#include <atomic>
#include <condition_variable>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <tuple>
#include <unordered_map>
#include <vector>

#include "common/status.h"
#include "server/clock.h"
#include "server/matching.h"
#include "storage/job_store.h"

namespace qlab::server {

struct SchedulerOptions {
  // A lease not heartbeaten for this long expires. Default: 30 s.
  int64_t lease_ttl_ms = 30'000;
  // What workers are told to use. Default: a third of the TTL.
  int64_t heartbeat_interval_ms = 10'000;
  // A worker silent for longer is not live (for matching reasons and the workers page).
  // Default: the lease TTL.
  int64_t worker_live_ms = 30'000;
  // Used when a job asks for max_attempts 0. Default: 3.
  int default_max_attempts = 3;
  // Attempts a job may lose to infrastructure (lost workers, expired leases) before it is
  // FAILED; they do not spend max_attempts. Default: 10.
  int max_infra_failures = 10;
};

struct WorkerRegistration {
  std::string worker_id;  // "" = assign one
  std::string host;
  std::vector<DeviceInfo> devices;
  std::set<std::string> kinds;
  int slots = 1;
  std::string devices_json;  // as stored and shown (the proto's JSON form)
  std::string labels_json = "{}";
  std::string version;
};

struct LeaseInfo {
  int64_t job_id = 0;
  int64_t token = 0;
  std::string kind, params_json, device, experiment;
  int64_t expiry_unix_ms = 0;
  int timeout_s = 0;
};

struct LeaseReport {
  int64_t job_id = 0;
  int64_t token = 0;
  double progress = 0;
  bool running = false;
  std::string log_append;  // evaluator output since the previous heartbeat
};

struct HeartbeatReply {
  std::vector<int64_t> cancel_job_ids;
  int64_t lease_expiry_unix_ms = 0;
  bool drain = false;  // the worker should finish its jobs and ask for no more
};

struct WorkerSnapshot {
  storage::WorkerRecord record;
  bool live = false;
  int64_t last_seen_unix_ms = 0;
  std::vector<int64_t> running_job_ids;
  bool draining = false;
  std::set<std::string> quarantined;  // devices closed to timing jobs by a drift canary
};

class Scheduler {
 public:
  Scheduler(storage::JobStore* store, const Clock* clock, SchedulerOptions options);
  ~Scheduler();

  // Rebuilds memory from the store: PENDING jobs are queued; LEASED/RUNNING jobs keep their
  // leases with a fresh TTL, so workers that outlived a coordinator restart can still finish.
  Status Start();
  // Wakes every long poll; later AcquireLeases calls return UNAVAILABLE.
  void Shutdown();

  const SchedulerOptions& options() const { return options_; }

  // ---- submissions ----
  StatusOr<storage::JobStore::Created> SubmitExperiment(const storage::ExperimentRecord& e,
                                                        std::vector<storage::JobSpec> jobs);
  StatusOr<storage::JobRecord> SubmitJob(const std::string& experiment, const std::string& owner,
                                         storage::JobSpec spec);
  // Queues a PENDING job another writer stored (a study's trial: study_runner.h).
  void AdoptJob(storage::JobRecord record);
  // Returns the ids cancelled. NOT_FOUND for an unknown job or experiment.
  StatusOr<std::vector<int64_t>> Cancel(int64_t job_id, const std::string& experiment);

  // ---- workers ----
  // Returns the worker id (the given one, or a new one).
  StatusOr<std::string> RegisterWorker(WorkerRegistration registration);
  // Leases up to max_jobs matching jobs, waiting up to wait_ms for the first one.
  // `cancelled` is polled while waiting (the RPC's client went away). NOT_FOUND for an unknown
  // worker (it must register again), UNAVAILABLE after Shutdown().
  StatusOr<std::vector<LeaseInfo>> AcquireLeases(const std::string& worker_id, int max_jobs,
                                                 int64_t wait_ms,
                                                 const std::function<bool()>& cancelled = {});
  StatusOr<HeartbeatReply> Heartbeat(const std::string& worker_id,
                                     const std::vector<LeaseReport>& leases);
  StatusOr<std::vector<storage::CompletionAck>> Complete(
      const std::string& worker_id, const std::vector<storage::CompletionRecord>& completions);

  // Expires every lease past its deadline now. Run periodically by the server (and by tests
  // with a FakeClock). Returns how many leases expired.
  StatusOr<int> ExpireLeases();

  // ---- reads ----
  // Why a PENDING job waits ("" when the job is not pending in memory).
  std::string PendingReason(int64_t job_id);
  double Progress(int64_t job_id);
  // (kind, params_json) of an unfinished job; empty strings when it is not in memory.
  std::pair<std::string, std::string> ParamsOf(int64_t job_id);
  std::vector<WorkerSnapshot> Workers();

  // Drains a worker (it finishes its running jobs and is leased nothing more, and is told so
  // in its next heartbeat) or, with draining false, puts it back to work. NOT_FOUND for an
  // unknown worker. Held in memory, and kept when the worker registers again; a coordinator
  // restart forgets it.
  Status SetDraining(const std::string& worker_id, bool draining);
  // Closes a worker's device to latency and kernel_bench jobs (a drift canary failed) or opens
  // it again. Kept when the worker registers again; rebuilt from the canary history on start.
  void SetQuarantined(const std::string& worker_id, const std::string& device, bool quarantined);
  // NOT_FOUND for an unknown worker, INVALID_ARGUMENT for a device it did not register.
  Status CheckWorkerDevice(const std::string& worker_id, const std::string& device);
  // Resubmission of an existing experiment (JobStore::ExtendExperiment): queues the added
  // jobs and the FAILED or CANCELLED jobs of `requeue` that went back to PENDING.
  StatusOr<storage::JobStore::Created> ExtendExperiment(const storage::ExperimentRecord& e,
                                                        std::vector<storage::JobSpec> jobs,
                                                        const std::vector<int64_t>& requeue,
                                                        std::vector<int64_t>* requeued);

  // Counters for metrics.
  struct Counters {
    int64_t leases_granted = 0, lease_expiries = 0, requeues = 0, completions_accepted = 0,
            completions_rejected = 0;
    // Lease deadlines ExpireLeases looked at: grows with leases and heartbeats, never with the
    // number of pending jobs.
    int64_t lease_deadlines_examined = 0;
  };
  Counters counters();
  // Queue depth (PENDING jobs in memory) and leased jobs.
  std::pair<int64_t, int64_t> QueueSizes();
  // Grows by one on every job state change (submit, lease, start, completion, expiry,
  // cancellation): a cheap "has anything changed?" for dashboards that poll.
  int64_t changes() const { return changes_.load(); }
  // Called after each accepted completion with the job's kind, its run time in seconds
  // (finished - started as the worker reported them) and whether it succeeded.
  // Called for every job that ends (kind, seconds it ran, failure class: "" when it succeeded,
  // else job_error | poison | infrastructure) and every failed attempt that is retried
  // (failure class crash | infrastructure, `retried` true).
  struct JobEnd {
    std::string kind;
    double seconds = 0;
    std::string failure_class;
    bool retried = false;
  };
  void SetCompletionObserver(std::function<void(const JobEnd&)> observer);

 private:
  struct ActiveJob {
    storage::JobRecord record;
    int64_t expiry_unix_ms = 0;
    double progress = 0;
  };
  struct WorkerState {
    WorkerRegistration reg;
    int64_t registered_unix_ms = 0;
    int64_t last_seen_unix_ms = 0;
    int64_t persisted_seen_unix_ms = 0;
    std::set<int64_t> running;          // job ids leased to it
    std::set<int64_t> cancel;           // to be told in the next heartbeat
    bool running_exclusive = false;
    bool draining = false;              // leases nothing more; kept when it registers again
    std::set<std::string> quarantined;  // devices closed to timing jobs; kept likewise
  };
  // Jobs with the same kind and requirements share one queue, so matching checks each
  // distinct requirement once, not each job.
  using QueueKey = std::tuple<std::string, int, std::string, uint64_t, bool, std::string, bool>;
  using Queue = std::set<std::pair<int, int64_t>>;  // (-priority, id): best first

  static QueueKey KeyOf(const storage::JobRecord& j);
  // Defaults max_attempts and derives each spec's format requirement (matching.h).
  void PrepareSpecs(std::vector<storage::JobSpec>* jobs) const;
  // Queues jobs just stored with consecutive ids from created.first_job_id.
  void QueueCreatedLocked(const storage::JobStore::Created& created, const std::string& experiment,
                          std::vector<storage::JobSpec> jobs, int64_t now);
  void EnqueueLocked(const storage::JobRecord& j);
  void DequeueLocked(const storage::JobRecord& j);
  WorkerView ViewLocked(const WorkerState& w, int64_t now) const;
  std::vector<LeaseInfo> PickLocked(const std::string& worker_id, WorkerState& w, int max_jobs,
                                    int64_t now);
  void ForgetLeaseLocked(const std::string& worker_id, int64_t job_id);
  void SetExpiryLocked(ActiveJob& job, int64_t expiry_unix_ms);
  std::string NewWorkerIdLocked(const std::string& host);

  storage::JobStore* const store_;
  const Clock* const clock_;
  const SchedulerOptions options_;

  std::mutex mu_;
  std::condition_variable changed_;
  bool shutdown_ = false;                                  // guarded by mu_
  int64_t next_token_ = 1;                                 // guarded by mu_
  std::unordered_map<int64_t, ActiveJob> jobs_;            // guarded by mu_
  // Lease deadlines in time order, (expiry, job id, token), so that finding the expired leases
  // costs their number, not the number of unfinished jobs. An entry whose job has moved on (a
  // newer expiry, another token, finished) is stale and dropped when it comes up.
  std::set<std::tuple<int64_t, int64_t, int64_t>> lease_deadlines_;  // guarded by mu_
  std::map<QueueKey, Queue> pending_;                      // guarded by mu_
  int64_t pending_count_ = 0;                              // guarded by mu_
  std::map<std::string, WorkerState> workers_;             // guarded by mu_
  std::set<std::string> reserved_worker_ids_;              // guarded by mu_: assigned, not yet stored
  Counters counters_;                                      // guarded by mu_
  std::function<void(const JobEnd&)> completion_observer_;  // guarded by mu_
  std::atomic<int64_t> changes_{0};
};

}  // namespace qlab::server
