// JobStore: every read and write of jobs, attempts, workers and results in the SQLite file.
//
// Writes go through the single WriteQueue (batched transactions); reads use a small pool of
// read-only connections, which WAL lets run beside the writer. The fencing rule lives here:
// a completion, expiry or cancellation changes a job only while `job.live_token` still equals
// the token the caller holds, checked in the same transaction that changes the job — so a late
// or duplicate worker can never write a result twice, whatever the in-memory state says.
//
// Thread-safe: every method may be called from any thread.
#pragma once

#include <algorithm>
#include <atomic>
#include <memory>
#include <mutex>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "common/status.h"
#include "storage/experiment_columns.h"
#include "storage/records.h"
#include "storage/sqlite.h"
#include "storage/write_queue.h"

namespace qlab::storage {

class JobStore {
 public:
  // Opens (creating if missing) and migrates the database at `path`.
  // Errors: UNAVAILABLE when the file cannot be opened, FAILED_PRECONDITION for a schema newer
  // than this binary, INTERNAL for a failed migration.
  static StatusOr<std::unique_ptr<JobStore>> Open(const std::string& path, int read_connections = 4);
  ~JobStore();

  WriteQueue& writer() { return *writer_; }

  // ---- writes -------------------------------------------------------------------------------

  // Stores an experiment and all its jobs in one transaction. Returns the experiment with its
  // id, and the first job id (job ids are consecutive). ALREADY_EXISTS when the name is taken.
  struct Created {
    int64_t experiment_id = 0;
    int64_t first_job_id = 0;
  };
  StatusOr<Created> CreateExperiment(const ExperimentRecord& experiment,
                                     const std::vector<JobSpec>& jobs, int64_t now_ms);
  // Resubmission of an existing experiment in one transaction: the jobs of `requeue` that are
  // FAILED or CANCELLED go back to PENDING with a fresh attempt budget (their attempts stay
  // in the history), and `jobs` are added. *requeued receives the ids that were requeued.
  StatusOr<Created> ExtendExperiment(int64_t experiment_id, const std::vector<JobSpec>& jobs,
                                     const std::vector<int64_t>& requeue, int64_t now_ms,
                                     std::vector<int64_t>* requeued);
  // Stores a drift canary (r->id receives its id), keeping the device's newest
  // kMaxCanariesPerDevice. With verdict "drift", every succeeded
  // latency or kernel_bench job whose attempt ran on that worker's device after
  // `last_good_unix_ms` gets `flag` (unless already flagged); *flagged receives how many.
  Status RecordCanary(CanaryRecord* r, const std::string& flag, int64_t last_good_unix_ms,
                      int64_t* flagged);
  // Adds one job to the named experiment, creating the experiment (kind of the job) if missing.
  StatusOr<JobRecord> AddJob(const std::string& experiment, const std::string& owner,
                             const JobSpec& spec, int64_t now_ms);

  // Marks each granted job LEASED (only if still PENDING) and records its attempt. `granted[i]`
  // tells whether grant i took effect.
  Status RecordLeases(const std::vector<LeaseGrant>& grants, int64_t now_ms,
                      std::vector<bool>* granted);
  // LEASED -> RUNNING for the live token; a stale token changes nothing.
  Status MarkRunning(const std::vector<std::pair<int64_t, int64_t>>& job_tokens, int64_t now_ms);
  // Applies completions; acks[i] says whether completion i was accepted and why not.
  // A succeeded completion stores its metrics, latency sets and artifacts in the transaction
  // that ends the job; a released one returns the job to PENDING without counting an attempt.
  Status Complete(const std::vector<CompletionRecord>& completions, int64_t now_ms,
                  std::vector<CompletionAck>* acks);
  // A failed completion is classified by its failure_class: job_error ends the job FAILED;
  // crash returns it to PENDING until it has crashed max_attempts times, then FAILED as poison;
  // infrastructure returns it to PENDING without counting the attempt, until the job has lost
  // max_infra_failures attempts that way. Its log replaces what heartbeats streamed.
  //
  // Expired leases are infrastructure failures: their jobs return to PENDING without spending
  // an attempt, or end FAILED (infrastructure) at the limit.
  Status Expire(const std::vector<std::pair<int64_t, int64_t>>& job_tokens, int64_t now_ms,
                std::vector<ExpiryOutcome>* outcomes);
  // Cancels one job (job_id > 0) or every unfinished job of an experiment. Returns the ids
  // cancelled. NOT_FOUND for an unknown job id or experiment.
  StatusOr<std::vector<int64_t>> Cancel(int64_t job_id, const std::string& experiment,
                                        int64_t now_ms);
  // How many attempts a job may lose to infrastructure before it is FAILED (default 10).
  void set_max_infra_failures(int n) { max_infra_failures_ = std::max(1, n); }
  // Appends streamed output to live attempts' logs (each kept to its last kMaxAttemptLogBytes);
  // chunks of attempts that have ended are dropped.
  struct AttemptLogChunk {
    int64_t token = 0;
    int64_t job_id = 0;
    std::string bytes;
  };
  Status AppendAttemptLogs(const std::vector<AttemptLogChunk>& chunks);
  Status UpsertWorker(const WorkerRecord& worker);
  Status TouchWorkers(const std::vector<std::pair<std::string, int64_t>>& heartbeats);

  // ---- reads --------------------------------------------------------------------------------

  // Every job of an experiment, by id (resubmission compares them with the sweep).
  StatusOr<std::vector<JobRecord>> ExperimentJobs(int64_t experiment_id);
  // A device's canaries, newest first, at most `limit` (samples included).
  StatusOr<std::vector<CanaryRecord>> CanaryHistory(const std::string& worker_id,
                                                    const std::string& device, int limit);
  // The newest canary of every (worker, device), with *counts[i] the device's history size
  // and *last_good[i] the time of its newest baseline or ok canary (0 = none).
  StatusOr<std::vector<CanaryRecord>> LatestCanaries(std::vector<int64_t>* counts,
                                                     std::vector<int64_t>* last_good);
  // Every job not in a terminal state, oldest first (for rebuilding the scheduler on start).
  StatusOr<std::vector<JobRecord>> LoadUnfinishedJobs();
  StatusOr<int64_t> MaxToken();
  StatusOr<std::vector<WorkerRecord>> LoadWorkers();

  // NOT_FOUND for an unknown id.
  StatusOr<JobRecord> GetJob(int64_t job_id);
  StatusOr<std::vector<AttemptRecord>> GetAttempts(int64_t job_id);
  // Attempt `attempt` (1-based; 0 = the latest) of a job with its log. NOT_FOUND for an unknown
  // job or one never leased; INVALID_ARGUMENT for an attempt it has not had.
  struct AttemptLog {
    AttemptRecord attempt;
    int number = 0;  // 1-based
    int count = 0;   // attempts the job has had
    std::string log;
  };
  StatusOr<AttemptLog> GetAttemptLog(int64_t job_id, int attempt);
  StatusOr<std::vector<Metric>> GetMetrics(int64_t job_id);
  // The job's artifacts named `name` ("" = all), by name; `bytes` only when with_content, and
  // `size_bytes` always. An unknown job has none.
  struct StoredArtifact {
    Artifact artifact;
    int64_t size_bytes = 0;
  };
  StatusOr<std::vector<StoredArtifact>> GetArtifacts(int64_t job_id, const std::string& name,
                                                     bool with_content);
  // Newest first; jobs with id < `before_id` (0 = from the newest). Returns up to `limit`.
  StatusOr<std::vector<JobRecord>> ListJobs(const JobFilter& filter, int64_t before_id, int limit);
  StatusOr<int64_t> CountJobs(const JobFilter& filter);

  // NOT_FOUND for an unknown experiment. Counts by state are filled.
  StatusOr<ExperimentRecord> GetExperiment(const std::string& name, int64_t id);
  StatusOr<std::vector<ExperimentRecord>> ListExperiments();

  // Jobs of an experiment with id > after_id, ascending, up to `limit`, with their metrics;
  // only those matching `expression` when given (INVALID_ARGUMENT if it is malformed).
  StatusOr<std::vector<ResultRow>> QueryResults(int64_t experiment_id, int64_t after_id, int limit,
                                                const std::string& expression = "");
  // For the succeeded jobs of an experiment that match `expression` and have both metrics:
  // (job id, x value, y value, environment key, fallback), ascending by job id, plus the
  // metrics' own directions. From the experiment's columns in memory, or from SQL for a filter
  // that reads live fields.
  using MetricPairs = ExperimentColumns::Pairs;
  StatusOr<MetricPairs> ReadMetricPairs(int64_t experiment_id, const std::string& x,
                                        const std::string& y, const std::string& expression);
  // The experiment's columns (storage/experiment_columns.h), read from the file on first use
  // and kept current by this store's writes. NOT_FOUND for an unknown experiment.
  StatusOr<std::shared_ptr<ExperimentColumns>> Columns(int64_t experiment_id);
  // What changes while a job lives, for exports that read the rest from the columns: the
  // jobs of `experiment_id` with ids in [first_id, last_id], ascending.
  struct LiveFields {
    int64_t job_id = 0;
    JobState state = JobState::kPending;
    std::string comparability_key, environment_key, backend, flag;
  };
  StatusOr<std::vector<LiveFields>> ReadLiveFields(int64_t experiment_id, int64_t first_id,
                                                   int64_t last_id);
  // Reads the columns of the newest experiments until `max_jobs` jobs are held or `stop` is
  // set (checked between experiments). Returns the jobs held.
  StatusOr<int64_t> WarmColumns(int64_t max_jobs, const std::atomic<bool>& stop);
  // Keeps the columns current for jobs another store of this file inserted (StudyStore), after
  // the transaction committed.
  void NoteJobsStored(int64_t experiment_id, const std::vector<std::pair<int64_t, JobSpec>>& jobs);
  // Params JSON of the given jobs, keyed by job id.
  StatusOr<std::map<int64_t, std::string>> ParamsOf(const std::vector<int64_t>& job_ids);
  // Metrics of the given jobs, keyed by job id.
  StatusOr<std::map<int64_t, std::vector<Metric>>> MetricsOf(const std::vector<int64_t>& job_ids);
  // Job counts by (state, kind) over the whole database.
  StatusOr<std::map<std::pair<JobState, std::string>, int64_t>> CountByStateAndKind();
  // Every metric name any job has stored (kept in memory; no query).
  std::set<std::string> MetricNames();
  // The metric names the jobs of one experiment have stored, in the order first stored
  // (kept in memory; no query).
  std::vector<std::string> ExperimentMetricNames(int64_t experiment_id);
  // COUNT of ListJobs' filter, stopping at `cap` (a bounded cost for dashboards); *capped is
  // set when the true count is larger.
  StatusOr<int64_t> CountJobsUpTo(const JobFilter& filter, int64_t cap, bool* capped);

  // Latency sample sets (summaries, and the raw samples when `with_samples`), by ascending id
  // after `after_id`; *last_id receives the last id returned. Empty filters match all; `device`
  // matches exactly, as a glob, or as the class prefix ("cpu" matches "cpu:AMD EPYC ...").
  StatusOr<std::vector<LatencySummary>> ListLatency(const std::string& device,
                                                    const std::string& arch_prefix,
                                                    const std::string& experiment,
                                                    int64_t after_id, int limit,
                                                    int64_t* last_id, bool with_samples = false);
  // (device, number of sample sets).
  StatusOr<std::vector<std::pair<std::string, int64_t>>> LatencyDevices();

  // Latency sample sets of a job, in insertion order.
  StatusOr<std::vector<LatencySampleSet>> GetLatencySamples(int64_t job_id);

 private:
  JobStore() = default;
  class ReaderLease;
  ReaderLease Reader();
  // Adds the metric names `experiment_id` has not stored before to experiment_metric.
  Status StoreNewMetricNames(Connection& c, int64_t experiment_id, const std::vector<Metric>& metrics);
  Status CompleteInWriter(const std::vector<CompletionRecord>& completions, int64_t now_ms,
                          std::vector<CompletionAck>* acks, std::vector<int64_t>* experiment_of);

  std::unique_ptr<WriteQueue> writer_;
  std::mutex readers_mu_;
  std::vector<std::unique_ptr<Connection>> idle_readers_;  // guarded by readers_mu_
  std::string path_;
  std::atomic<int> max_infra_failures_{10};
  // A job filter the columns answer: its parsed expression and the experiments it spans.
  // std::nullopt when SQL answers it instead (no expression, a state, live fields).
  struct ColumnPlan {
    FilterNode filter;
    std::vector<std::shared_ptr<ExperimentColumns>> experiments;
  };
  StatusOr<std::optional<ColumnPlan>> PlanWithColumns(const JobFilter& filter);
  static std::vector<int64_t> MatchingIds(const ColumnPlan& plan, const JobFilter& filter,
                                          int64_t before_id, size_t limit);
  static int64_t CountMatching(const ColumnPlan& plan, const JobFilter& filter, int64_t cap);
  StatusOr<std::vector<JobRecord>> JobsById(const std::vector<int64_t>& ids_newest_first);
  StatusOr<MetricPairs> MetricPairsFromSql(int64_t experiment_id, const std::string& x,
                                           const std::string& y, const CompiledFilter& compiled);

  ColumnIndex columns_;
  std::mutex metric_names_mu_;
  std::set<std::string> metric_names_;  // guarded by metric_names_mu_
  std::map<int64_t, std::vector<std::string>> experiment_metrics_;  // guarded by metric_names_mu_
};

}  // namespace qlab::storage
