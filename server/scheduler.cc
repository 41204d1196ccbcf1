#include "server/scheduler.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>

#include <nlohmann/json.hpp>

namespace qlab::server {

using storage::JobRecord;
using storage::JobState;

namespace {
// How often a worker's last-seen time is written to the database; memory has the exact value.
constexpr int64_t kPersistSeenEveryMs = 5000;
// Long polls re-check their wait condition at least this often (shutdown, client gone).
constexpr auto kPollSlice = std::chrono::milliseconds(200);
}  // namespace

Scheduler::Scheduler(storage::JobStore* store, const Clock* clock, SchedulerOptions options)
    : store_(store), clock_(clock), options_(options) {
  store_->set_max_infra_failures(options_.max_infra_failures);
}

Scheduler::~Scheduler() { Shutdown(); }

void Scheduler::Shutdown() {
  std::lock_guard lock(mu_);
  shutdown_ = true;
  changed_.notify_all();
}

void Scheduler::SetCompletionObserver(
    std::function<void(const JobEnd&)> observer) {
  std::lock_guard lock(mu_);
  completion_observer_ = std::move(observer);
}

Scheduler::QueueKey Scheduler::KeyOf(const JobRecord& j) {
  const auto& r = j.spec.requirements;
  return {j.spec.kind,       r.device_class, r.device_model_pattern, r.min_memory_bytes,
          r.exclusive,       r.format,       r.native_format};
}

void Scheduler::EnqueueLocked(const JobRecord& j) {
  if (pending_[KeyOf(j)].emplace(-j.spec.priority, j.id).second) ++pending_count_;
}

void Scheduler::DequeueLocked(const JobRecord& j) {
  auto it = pending_.find(KeyOf(j));
  if (it == pending_.end()) return;
  if (it->second.erase({-j.spec.priority, j.id})) --pending_count_;
  if (it->second.empty()) pending_.erase(it);
}

Status Scheduler::Start() {
  ASSIGN_OR_RETURN(int64_t max_token, store_->MaxToken());
  ASSIGN_OR_RETURN(auto workers, store_->LoadWorkers());
  ASSIGN_OR_RETURN(auto jobs, store_->LoadUnfinishedJobs());
  std::vector<int64_t> canary_counts, canary_last_good;
  ASSIGN_OR_RETURN(auto canaries, store_->LatestCanaries(&canary_counts, &canary_last_good));
  const int64_t now = clock_->NowMs();
  std::lock_guard lock(mu_);
  next_token_ = max_token + 1;
  for (auto& w : workers) {
    WorkerState state;
    state.reg.worker_id = w.id;
    state.reg.host = w.host;
    state.reg.devices = DevicesFromJson(w.devices_json);
    state.reg.devices_json = w.devices_json;
    auto kinds = nlohmann::json::parse(w.kinds_json, nullptr, false);
    if (kinds.is_array()) {
      for (const auto& k : kinds) {
        if (k.is_string()) state.reg.kinds.insert(k.get<std::string>());
      }
    }
    state.reg.slots = w.slots;
    state.reg.labels_json = w.labels_json;
    state.reg.version = w.version;
    state.registered_unix_ms = w.registered_unix_ms;
    // Not live until it talks to this process: the restart may have outlived it.
    state.last_seen_unix_ms = 0;
    state.persisted_seen_unix_ms = w.last_heartbeat_unix_ms;
    workers_[w.id] = std::move(state);
  }
  for (const auto& c : canaries) {
    auto w = workers_.find(c.worker_id);
    if (w != workers_.end() && c.verdict == "drift") w->second.quarantined.insert(c.device);
  }
  for (auto& j : jobs) {
    FormatRequirement(j.spec.kind, j.spec.params_json, &j.spec.requirements);
    ActiveJob active{j, 0, 0};
    if (j.state == JobState::kPending) {
      EnqueueLocked(j);
    } else {
      // A fresh TTL: the worker holding the lease gets one full period to heartbeat again.
      SetExpiryLocked(active, now + options_.lease_ttl_ms);
      auto w = workers_.find(j.worker_id);
      if (w != workers_.end()) {
        w->second.running.insert(j.id);
        if (j.spec.requirements.exclusive) w->second.running_exclusive = true;
      }
    }
    jobs_.emplace(j.id, std::move(active));
  }
  return Status::Ok();
}

StatusOr<storage::JobStore::Created> Scheduler::SubmitExperiment(
    const storage::ExperimentRecord& e, std::vector<storage::JobSpec> jobs) {
  PrepareSpecs(&jobs);
  const int64_t now = clock_->NowMs();
  ASSIGN_OR_RETURN(auto created, store_->CreateExperiment(e, jobs, now));
  std::lock_guard lock(mu_);
  QueueCreatedLocked(created, e.name, std::move(jobs), now);
  changes_++;
  changed_.notify_all();
  return created;
}

void Scheduler::PrepareSpecs(std::vector<storage::JobSpec>* jobs) const {
  for (auto& j : *jobs) {
    if (j.max_attempts <= 0) j.max_attempts = options_.default_max_attempts;
    FormatRequirement(j.kind, j.params_json, &j.requirements);
  }
}

void Scheduler::QueueCreatedLocked(const storage::JobStore::Created& created,
                                   const std::string& experiment,
                                   std::vector<storage::JobSpec> jobs, int64_t now) {
  for (size_t i = 0; i < jobs.size(); ++i) {
    JobRecord r;
    r.id = created.first_job_id + static_cast<int64_t>(i);
    r.experiment_id = created.experiment_id;
    r.experiment = experiment;
    r.spec = std::move(jobs[i]);
    r.created_unix_ms = now;
    EnqueueLocked(r);
    jobs_.emplace(r.id, ActiveJob{std::move(r), 0, 0});
  }
}

StatusOr<JobRecord> Scheduler::SubmitJob(const std::string& experiment, const std::string& owner,
                                         storage::JobSpec spec) {
  if (spec.max_attempts <= 0) spec.max_attempts = options_.default_max_attempts;
  ASSIGN_OR_RETURN(JobRecord r, store_->AddJob(experiment, owner, spec, clock_->NowMs()));
  FormatRequirement(r.spec.kind, r.spec.params_json, &r.spec.requirements);
  std::lock_guard lock(mu_);
  EnqueueLocked(r);
  jobs_.emplace(r.id, ActiveJob{r, 0, 0});
  changes_++;
  changed_.notify_all();
  return r;
}

void Scheduler::AdoptJob(storage::JobRecord record) {
  std::lock_guard lock(mu_);
  if (record.spec.max_attempts <= 0) record.spec.max_attempts = options_.default_max_attempts;
  FormatRequirement(record.spec.kind, record.spec.params_json, &record.spec.requirements);
  EnqueueLocked(record);
  const int64_t id = record.id;
  jobs_.emplace(id, ActiveJob{std::move(record), 0, 0});
  changes_++;
  changed_.notify_all();
}

StatusOr<std::vector<int64_t>> Scheduler::Cancel(int64_t job_id, const std::string& experiment) {
  ASSIGN_OR_RETURN(auto ids, store_->Cancel(job_id, experiment, clock_->NowMs()));
  std::lock_guard lock(mu_);
  for (int64_t id : ids) {
    auto it = jobs_.find(id);
    if (it == jobs_.end()) continue;
    const JobRecord& r = it->second.record;
    if (r.live_token != 0) {
      auto w = workers_.find(r.worker_id);
      if (w != workers_.end()) w->second.cancel.insert(id);
      ForgetLeaseLocked(r.worker_id, id);
    } else {
      DequeueLocked(r);
    }
    jobs_.erase(it);
  }
  changes_++;
  changed_.notify_all();
  return ids;
}

std::vector<LeaseInfo> Scheduler::PickLocked(const std::string& worker_id, WorkerState& w,
                                             int max_jobs, int64_t now) {
  std::vector<LeaseInfo> out;
  WorkerView view = ViewLocked(w, now);
  int budget = std::min(max_jobs, view.free_slots);
  std::map<QueueKey, const DeviceInfo*> device_of;  // per distinct requirement, once per call
  while (static_cast<int>(out.size()) < budget) {
    const QueueKey* best_key = nullptr;
    std::pair<int, int64_t> best_head;
    for (const auto& [key, queue] : pending_) {
      if (queue.empty()) continue;
      const bool exclusive = std::get<4>(key);
      if (exclusive && (!w.running.empty() || !out.empty())) continue;
      auto found = device_of.find(key);
      if (found == device_of.end()) {
        storage::Requirements req{std::get<1>(key), std::get<2>(key), std::get<3>(key), exclusive,
                                  std::get<5>(key), std::get<6>(key)};
        const DeviceInfo* d = FindDevice(std::get<0>(key), req, view);
        found = device_of.emplace(key, d).first;
      }
      if (found->second == nullptr) continue;
      if (!best_key || *queue.begin() < best_head) {
        best_key = &key;
        best_head = *queue.begin();
      }
    }
    if (!best_key) break;
    const QueueKey key = *best_key;
    const DeviceInfo* device = device_of[key];
    auto& queue = pending_[key];
    queue.erase(queue.begin());
    --pending_count_;
    if (queue.empty()) pending_.erase(key);

    ActiveJob& job = jobs_.at(best_head.second);
    JobRecord& r = job.record;
    r.state = JobState::kLeased;
    r.live_token = next_token_++;
    r.worker_id = worker_id;
    r.attempts++;
    SetExpiryLocked(job, now + options_.lease_ttl_ms);
    job.progress = 0;
    w.running.insert(r.id);
    if (r.spec.requirements.exclusive) w.running_exclusive = true;
    out.push_back(LeaseInfo{r.id, r.live_token, r.spec.kind, r.spec.params_json, device->name,
                            r.experiment, job.expiry_unix_ms, r.spec.timeout_s});
    if (r.spec.requirements.exclusive) break;
  }
  return out;
}

void Scheduler::ForgetLeaseLocked(const std::string& worker_id, int64_t job_id) {
  auto w = workers_.find(worker_id);
  if (w == workers_.end()) return;
  w->second.running.erase(job_id);
  if (w->second.running_exclusive) {
    bool still = false;
    for (int64_t id : w->second.running) {
      auto j = jobs_.find(id);
      if (j != jobs_.end() && j->second.record.spec.requirements.exclusive) still = true;
    }
    w->second.running_exclusive = still;
  }
}

StatusOr<std::vector<LeaseInfo>> Scheduler::AcquireLeases(const std::string& worker_id,
                                                          int max_jobs, int64_t wait_ms,
                                                          const std::function<bool()>& cancelled) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(wait_ms);
  std::vector<LeaseInfo> picked;
  int64_t now = 0;
  {
    std::unique_lock lock(mu_);
    for (;;) {
      if (shutdown_) return Status::Unavailable("coordinator is shutting down");
      auto w = workers_.find(worker_id);
      if (w == workers_.end()) {
        return Status::NotFound("unknown worker '" + worker_id + "'; register again");
      }
      now = clock_->NowMs();
      w->second.last_seen_unix_ms = now;
      picked = PickLocked(worker_id, w->second, max_jobs, now);
      if (!picked.empty()) break;
      if (std::chrono::steady_clock::now() >= deadline || (cancelled && cancelled())) return picked;
      changed_.wait_until(lock, std::min(deadline, std::chrono::steady_clock::now() + kPollSlice));
    }
  }
  std::vector<storage::LeaseGrant> grants;
  grants.reserve(picked.size());
  for (const auto& l : picked) {
    grants.push_back({l.job_id, l.token, worker_id, l.expiry_unix_ms, l.device});
  }
  std::vector<bool> granted;
  Status st = store_->RecordLeases(grants, now, &granted);
  std::lock_guard lock(mu_);
  std::vector<LeaseInfo> out;
  for (size_t i = 0; i < picked.size(); ++i) {
    auto it = jobs_.find(picked[i].job_id);
    const bool ours = it != jobs_.end() && it->second.record.live_token == picked[i].token;
    if (st.ok() && granted[i]) {
      out.push_back(std::move(picked[i]));
      counters_.leases_granted++;
      continue;
    }
    ForgetLeaseLocked(worker_id, picked[i].job_id);
    if (!ours) continue;
    if (st.ok()) {
      jobs_.erase(it);  // no longer PENDING in the database: cancelled meanwhile
    } else {
      JobRecord& r = it->second.record;  // the write failed: the job is still PENDING
      r.state = JobState::kPending;
      r.live_token = 0;
      r.attempts--;
      EnqueueLocked(r);
    }
  }
  if (!st.ok()) return st;
  if (!out.empty()) changes_++;
  return out;
}

StatusOr<HeartbeatReply> Scheduler::Heartbeat(const std::string& worker_id,
                                              const std::vector<LeaseReport>& leases) {
  const int64_t now = clock_->NowMs();
  HeartbeatReply reply;
  reply.lease_expiry_unix_ms = now + options_.lease_ttl_ms;
  std::vector<std::pair<int64_t, int64_t>> started;
  std::vector<storage::JobStore::AttemptLogChunk> logs;
  bool persist_seen = false;
  {
    std::lock_guard lock(mu_);
    auto w = workers_.find(worker_id);
    if (w == workers_.end()) {
      return Status::NotFound("unknown worker '" + worker_id + "'; register again");
    }
    w->second.last_seen_unix_ms = now;
    reply.drain = w->second.draining;
    for (const LeaseReport& l : leases) {
      auto it = jobs_.find(l.job_id);
      if (it == jobs_.end() || it->second.record.live_token != l.token) {
        reply.cancel_job_ids.push_back(l.job_id);
        continue;
      }
      SetExpiryLocked(it->second, reply.lease_expiry_unix_ms);
      it->second.progress = std::clamp(l.progress, 0.0, 1.0);
      if (l.running && it->second.record.state == JobState::kLeased) {
        started.emplace_back(l.job_id, l.token);
      }
      if (!l.log_append.empty()) logs.push_back({l.token, l.job_id, l.log_append});
    }
    for (int64_t id : w->second.cancel) reply.cancel_job_ids.push_back(id);
    w->second.cancel.clear();
    if (now - w->second.persisted_seen_unix_ms >= kPersistSeenEveryMs) {
      w->second.persisted_seen_unix_ms = now;
      persist_seen = true;
    }
  }
  if (!started.empty()) {
    RETURN_IF_ERROR(store_->MarkRunning(started, now));
    std::lock_guard lock(mu_);
    for (auto [id, token] : started) {
      auto it = jobs_.find(id);
      if (it != jobs_.end() && it->second.record.live_token == token) {
        it->second.record.state = JobState::kRunning;
        it->second.record.started_unix_ms = now;
      }
    }
    changes_++;
  }
  // A log that cannot be stored (a full disk) costs the log, never the lease.
  if (Status st = store_->AppendAttemptLogs(logs); !st.ok()) {
    spdlog::warn("qlab-server: attempt logs of worker {} not stored: {}", worker_id, st.message());
  }
  if (persist_seen) RETURN_IF_ERROR(store_->TouchWorkers({{worker_id, now}}));
  return reply;
}

StatusOr<std::vector<storage::CompletionAck>> Scheduler::Complete(
    const std::string& worker_id, const std::vector<storage::CompletionRecord>& completions) {
  const int64_t now = clock_->NowMs();
  std::vector<storage::CompletionAck> acks(completions.size());
  std::vector<storage::CompletionRecord> forward;
  std::vector<size_t> forward_index;
  {
    std::lock_guard lock(mu_);
    auto w = workers_.find(worker_id);
    if (w == workers_.end()) {
      return Status::NotFound("unknown worker '" + worker_id + "'; register again");
    }
    w->second.last_seen_unix_ms = now;
    for (size_t i = 0; i < completions.size(); ++i) {
      const auto& c = completions[i];
      auto it = jobs_.find(c.job_id);
      if (it == jobs_.end() || it->second.record.live_token != c.token) {
        acks[i] = {c.job_id, false,
                   "stale fencing token: the lease is no longer live (expired, cancelled or "
                   "already completed)"};
        counters_.completions_rejected++;
        continue;
      }
      forward.push_back(c);
      forward_index.push_back(i);
    }
  }
  if (forward.empty()) return acks;
  std::vector<storage::CompletionAck> stored;
  RETURN_IF_ERROR(store_->Complete(forward, now, &stored));
  std::lock_guard lock(mu_);
  for (size_t k = 0; k < forward.size(); ++k) {
    acks[forward_index[k]] = stored[k];
    if (!stored[k].accepted) {
      counters_.completions_rejected++;
      continue;
    }
    counters_.completions_accepted++;
    const auto& c = forward[k];
    const bool requeued = stored[k].new_state == JobState::kPending;
    if (completion_observer_ && (!requeued || c.outcome == storage::CompletionOutcome::kFailed)) {
      JobEnd end;
      end.seconds = c.started_unix_ms > 0 && c.finished_unix_ms >= c.started_unix_ms
                        ? (c.finished_unix_ms - c.started_unix_ms) / 1000.0
                        : 0.0;
      end.retried = requeued;
      end.failure_class = requeued ? c.failure_class : stored[k].failure_class;
      auto job = jobs_.find(c.job_id);
      if (job != jobs_.end()) {
        end.kind = job->second.record.spec.kind;
        completion_observer_(end);
      }
    }
    auto it = jobs_.find(forward[k].job_id);
    if (it == jobs_.end() || it->second.record.live_token != forward[k].token) continue;
    JobRecord& r = it->second.record;
    ForgetLeaseLocked(r.worker_id, r.id);
    if (requeued) {  // released by a stopping worker, or a retried failure
      r.state = JobState::kPending;
      r.live_token = 0;
      if (stored[k].attempt_refunded) r.attempts--;
      EnqueueLocked(r);
    } else {
      jobs_.erase(it);
    }
  }
  changes_++;
  changed_.notify_all();
  return acks;
}

void Scheduler::SetExpiryLocked(ActiveJob& job, int64_t expiry_unix_ms) {
  job.expiry_unix_ms = expiry_unix_ms;
  lease_deadlines_.emplace(expiry_unix_ms, job.record.id, job.record.live_token);
}

StatusOr<int> Scheduler::ExpireLeases() {
  const int64_t now = clock_->NowMs();
  std::vector<std::pair<int64_t, int64_t>> expired;
  std::vector<std::tuple<int64_t, int64_t, int64_t>> taken;  // put back if the store fails
  {
    std::lock_guard lock(mu_);
    while (!lease_deadlines_.empty() && std::get<0>(*lease_deadlines_.begin()) < now) {
      const auto [expiry, id, token] = *lease_deadlines_.begin();
      lease_deadlines_.erase(lease_deadlines_.begin());
      ++counters_.lease_deadlines_examined;
      auto it = jobs_.find(id);
      if (it == jobs_.end() || it->second.record.live_token != token ||
          it->second.expiry_unix_ms != expiry) {
        continue;  // stale: extended, finished or leased again since
      }
      expired.emplace_back(id, token);
      taken.emplace_back(expiry, id, token);
    }
  }
  if (expired.empty()) return 0;
  std::vector<storage::ExpiryOutcome> outcomes;
  if (Status st = store_->Expire(expired, now, &outcomes); !st.ok()) {
    std::lock_guard lock(mu_);
    lease_deadlines_.insert(taken.begin(), taken.end());
    return st;
  }
  int applied = 0;
  std::lock_guard lock(mu_);
  for (size_t i = 0; i < expired.size(); ++i) {
    if (!outcomes[i].applied) continue;
    ++applied;
    counters_.lease_expiries++;
    auto it = jobs_.find(expired[i].first);
    if (it == jobs_.end() || it->second.record.live_token != expired[i].second) continue;
    JobRecord& r = it->second.record;
    ForgetLeaseLocked(r.worker_id, r.id);
    r.attempts--;  // an expired lease is the infrastructure's failure, not the job's
    if (completion_observer_) {
      completion_observer_(JobEnd{r.spec.kind, 0.0, storage::kInfrastructure,
                                  outcomes[i].new_state == JobState::kPending});
    }
    if (outcomes[i].new_state == JobState::kPending) {
      counters_.requeues++;
      r.state = JobState::kPending;
      r.live_token = 0;
      EnqueueLocked(r);
    } else {
      jobs_.erase(it);
    }
  }
  changes_++;
  changed_.notify_all();
  return applied;
}

std::string Scheduler::PendingReason(int64_t job_id) {
  std::lock_guard lock(mu_);
  auto it = jobs_.find(job_id);
  if (it == jobs_.end() || it->second.record.state != JobState::kPending) return "";
  const int64_t now = clock_->NowMs();
  std::vector<WorkerView> views;
  views.reserve(workers_.size());
  for (const auto& [id, w] : workers_) views.push_back(ViewLocked(w, now));
  return server::PendingReason(it->second.record.spec.kind, it->second.record.spec.requirements,
                               views);
}

std::pair<std::string, std::string> Scheduler::ParamsOf(int64_t job_id) {
  std::lock_guard lock(mu_);
  auto it = jobs_.find(job_id);
  if (it == jobs_.end()) return {};
  return {it->second.record.spec.kind, it->second.record.spec.params_json};
}

double Scheduler::Progress(int64_t job_id) {
  std::lock_guard lock(mu_);
  auto it = jobs_.find(job_id);
  return it == jobs_.end() ? 0.0 : it->second.progress;
}

StatusOr<storage::JobStore::Created> Scheduler::ExtendExperiment(
    const storage::ExperimentRecord& e, std::vector<storage::JobSpec> jobs,
    const std::vector<int64_t>& requeue, std::vector<int64_t>* requeued) {
  PrepareSpecs(&jobs);
  const int64_t now = clock_->NowMs();
  ASSIGN_OR_RETURN(auto created, store_->ExtendExperiment(e.id, jobs, requeue, now, requeued));
  std::vector<JobRecord> again;
  for (int64_t id : *requeued) {
    ASSIGN_OR_RETURN(JobRecord r, store_->GetJob(id));
    FormatRequirement(r.spec.kind, r.spec.params_json, &r.spec.requirements);
    again.push_back(std::move(r));
  }
  std::lock_guard lock(mu_);
  QueueCreatedLocked(created, e.name, std::move(jobs), now);
  for (auto& r : again) {
    EnqueueLocked(r);
    jobs_.emplace(r.id, ActiveJob{std::move(r), 0, 0});
  }
  changes_++;
  changed_.notify_all();
  return created;
}

Scheduler::Counters Scheduler::counters() {
  std::lock_guard lock(mu_);
  return counters_;
}

std::pair<int64_t, int64_t> Scheduler::QueueSizes() {
  std::lock_guard lock(mu_);
  return {pending_count_, static_cast<int64_t>(jobs_.size()) - pending_count_};
}

}  // namespace qlab::server
