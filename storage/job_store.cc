#include "storage/job_store.h"

#include <algorithm>
#include <cstring>
#include <limits>
#include <tuple>
#include <type_traits>
#include <variant>

#include "storage/filter_expression.h"
#include "storage/job_rows.h"
#include "storage/migrations.h"

namespace qlab::storage {

const char* JobStateName(JobState s) {
  switch (s) {
    case JobState::kPending: return "PENDING";
    case JobState::kLeased: return "LEASED";
    case JobState::kRunning: return "RUNNING";
    case JobState::kSucceeded: return "SUCCEEDED";
    case JobState::kFailed: return "FAILED";
    case JobState::kCancelled: return "CANCELLED";
  }
  return "UNSPECIFIED";
}

namespace {

constexpr int kPending = static_cast<int>(JobState::kPending);
constexpr int kLeased = static_cast<int>(JobState::kLeased);
constexpr int kRunning = static_cast<int>(JobState::kRunning);
constexpr int kSucceeded = static_cast<int>(JobState::kSucceeded);
constexpr int kFailed = static_cast<int>(JobState::kFailed);
constexpr int kCancelled = static_cast<int>(JobState::kCancelled);

const char* const kJobColumns =
    "j.id, j.experiment_id, e.name, j.kind, j.params_json, j.device_class, "
    "j.device_model_pattern, j.min_memory_bytes, j.exclusive, j.priority, j.state, j.attempts, "
    "j.max_attempts, j.live_token, j.worker_id, j.last_error, j.created_unix_ms, "
    "j.started_unix_ms, j.finished_unix_ms";

JobRecord ReadJob(const Statement& s) {
  JobRecord j;
  j.id = s.Int(0);
  j.experiment_id = s.Int(1);
  j.experiment = s.Text(2);
  j.spec.kind = s.Text(3);
  j.spec.params_json = s.Text(4);
  j.spec.requirements.device_class = static_cast<int>(s.Int(5));
  j.spec.requirements.device_model_pattern = s.Text(6);
  j.spec.requirements.min_memory_bytes = static_cast<uint64_t>(s.Int(7));
  j.spec.requirements.exclusive = s.Int(8) != 0;
  j.spec.priority = static_cast<int>(s.Int(9));
  j.state = static_cast<JobState>(s.Int(10));
  j.attempts = static_cast<int>(s.Int(11));
  j.spec.max_attempts = static_cast<int>(s.Int(12));
  j.live_token = s.IsNull(13) ? 0 : s.Int(13);
  j.worker_id = s.Text(14);
  j.last_error = s.Text(15);
  j.created_unix_ms = s.Int(16);
  j.started_unix_ms = s.Int(17);
  j.finished_unix_ms = s.Int(18);
  return j;
}

// Ends the live attempt of a lease with an outcome.
Status FinishAttempt(Connection& c, int64_t token, const std::string& outcome,
                     const std::string& error, int64_t started_ms, int64_t finished_ms) {
  ASSIGN_OR_RETURN(Statement * s,
                   c.Prepare("UPDATE attempt SET outcome=?, error=?, finished_unix_ms=?, "
                             "started_unix_ms=CASE WHEN ?>0 THEN ? ELSE started_unix_ms END "
                             "WHERE token=?"));
  s->Bind(1, outcome).Bind(2, error).Bind(3, finished_ms).Bind(4, started_ms).Bind(5, started_ms)
      .Bind(6, token);
  return s->Run();
}

Status StoreOutput(Connection& c, int64_t job_id, const JobOutput& out) {
  if (!out.metrics.empty()) {
    ASSIGN_OR_RETURN(Statement * s,
                     c.Prepare("INSERT INTO result(job_id, name, value, unit, stderr, "
                               "higher_is_better) VALUES (?,?,?,?,?,?)"));
    for (const Metric& m : out.metrics) {
      s->Bind(1, job_id).Bind(2, m.name).Bind(3, m.value).Bind(4, m.unit).Bind(5, m.stderr_value)
          .Bind(6, m.higher_is_better ? 1 : 0);
      Status st = s->Run();
      if (!st.ok()) {
        s->Reset();
        if (st.code() == StatusCode::kAlreadyExists) {
          return Status::InvalidArgument("metric '" + m.name + "' reported twice");
        }
        return st;
      }
    }
  }
  if (!out.latency.empty()) {
    ASSIGN_OR_RETURN(
        Statement * s,
        c.Prepare("INSERT INTO latency_sample(job_id, arch_key, device, batch, samples_us, "
                  "median_us, mean_us, p10_us, p90_us, min_us, stddev_us, cv, unstable, "
                  "context_json) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?)"));
    for (const LatencySampleSet& l : out.latency) {
      // Host byte order is little-endian on every platform qlab builds for (x86-64, aarch64).
      s->Bind(1, job_id).Bind(2, l.arch_key).Bind(3, l.device).Bind(4, l.batch)
          .BindBlob(5, l.samples_us.data(), l.samples_us.size() * sizeof(double))
          .Bind(6, l.median_us).Bind(7, l.mean_us).Bind(8, l.p10_us).Bind(9, l.p90_us)
          .Bind(10, l.min_us).Bind(11, l.stddev_us).Bind(12, l.cv).Bind(13, l.unstable ? 1 : 0)
          .Bind(14, l.context_json);
      RETURN_IF_ERROR(s->Run());
    }
  }
  if (!out.artifacts.empty()) {
    ASSIGN_OR_RETURN(Statement * s, c.Prepare("INSERT INTO artifact(job_id, name, media_type, "
                                              "content) VALUES (?,?,?,?)"));
    for (const Artifact& a : out.artifacts) {
      s->Bind(1, job_id).Bind(2, a.name).Bind(3, a.media_type)
          .BindBlob(4, a.bytes.data(), a.bytes.size());
      RETURN_IF_ERROR(s->Run());
    }
  }
  return Status::Ok();
}

StatusOr<std::string> FilterSql(const JobFilter& f, const std::set<std::string>& metric_names,
                                CompiledFilter* compiled) {
  std::string where = " WHERE 1=1";
  if (!f.experiment.empty()) where += " AND e.name=:exp";
  if (f.state != 0) where += " AND j.state=:state";
  if (!f.kind.empty()) where += " AND j.kind=:kind";
  ASSIGN_OR_RETURN(*compiled, CompileFilter(f.expression, metric_names));
  if (!compiled->sql.empty()) where += " AND " + compiled->sql;
  return where;
}

void BindCompiled(Statement* s, const CompiledFilter& compiled) {
  for (const auto& [name, value] : compiled.binds) {
    int idx = s->ParamIndex(name.c_str());
    if (idx <= 0) continue;
    std::visit([&](const auto& v) {
      if constexpr (std::is_same_v<std::decay_t<decltype(v)>, std::string>) {
        s->Bind(idx, std::string_view(v));
      } else {
        s->Bind(idx, v);
      }
    }, value);
  }
}

void BindFilter(Statement* s, const JobFilter& f, const CompiledFilter& compiled) {
  auto bind = [&](const char* name, auto value) {
    int idx = s->ParamIndex(name);
    if (idx > 0) s->Bind(idx, value);
  };
  if (!f.experiment.empty()) bind(":exp", std::string_view(f.experiment));
  if (f.state != 0) bind(":state", static_cast<int64_t>(f.state));
  if (!f.kind.empty()) bind(":kind", std::string_view(f.kind));
  BindCompiled(s, compiled);
}

}  // namespace

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

JobStore::ReaderLease JobStore::Reader() {
  {
    std::lock_guard lock(readers_mu_);
    if (!idle_readers_.empty()) {
      auto conn = std::move(idle_readers_.back());
      idle_readers_.pop_back();
      return ReaderLease(this, std::move(conn), Status::Ok());
    }
  }
  // More concurrent readers than pooled connections: open another; it joins the pool after.
  auto conn = Connection::Open(path_, false, true);
  if (!conn.ok()) return ReaderLease(this, nullptr, conn.status());
  return ReaderLease(this, std::move(conn).value(), Status::Ok());
}

#define WITH_READER(name)              \
  ReaderLease name##_lease = Reader(); \
  RETURN_IF_ERROR(name##_lease.status()); \
  Connection& name = *name##_lease

StatusOr<std::unique_ptr<JobStore>> JobStore::Open(const std::string& path, int read_connections) {
  ASSIGN_OR_RETURN(auto conn, Connection::Open(path, true));
  RETURN_IF_ERROR(Migrate(*conn));
  std::unique_ptr<JobStore> store(new JobStore());
  store->path_ = path;
  for (int i = 0; i < read_connections; ++i) {
    ASSIGN_OR_RETURN(auto reader, Connection::Open(path, false, true));
    store->idle_readers_.push_back(std::move(reader));
  }
  {
    // Metric names are few and read by every filter and chart; keep them in memory from here
    // on (one scan at start-up instead of one per request).
    ASSIGN_OR_RETURN(Statement * names,
                     conn->Prepare("SELECT j.experiment_id, r.name, MIN(r.job_id) AS first FROM result r "
                                   "JOIN job j ON j.id = r.job_id GROUP BY j.experiment_id, r.name "
                                   "ORDER BY j.experiment_id, first"));
    for (;;) {
      ASSIGN_OR_RETURN(bool row, names->Step());
      if (!row) break;
      store->metric_names_.insert(names->Text(1));
      store->experiment_metrics_[names->Int(0)].push_back(names->Text(1));
    }
    names->Reset();
  }
  store->writer_ = std::make_unique<WriteQueue>(std::move(conn));
  return store;
}

std::set<std::string> JobStore::MetricNames() {
  std::lock_guard lock(metric_names_mu_);
  return metric_names_;
}

JobStore::~JobStore() { writer_.reset(); }

StatusOr<JobStore::Created> JobStore::CreateExperiment(const ExperimentRecord& experiment,
                                                       const std::vector<JobSpec>& jobs,
                                                       int64_t now_ms) {
  Created created;
  RETURN_IF_ERROR(writer_->Run([&](Connection& c) -> Status {
    RETURN_IF_ERROR(InsertExperiment(c, experiment, now_ms, &created.experiment_id));
    for (size_t i = 0; i < jobs.size(); ++i) {
      int64_t id = 0;
      RETURN_IF_ERROR(InsertJob(c, created.experiment_id, jobs[i], now_ms, &id));
      if (i == 0) created.first_job_id = id;
    }
    return Status::Ok();
  }));
  return created;
}

StatusOr<JobRecord> JobStore::AddJob(const std::string& experiment, const std::string& owner,
                                     const JobSpec& spec, int64_t now_ms) {
  int64_t job_id = 0;
  RETURN_IF_ERROR(writer_->Run([&](Connection& c) -> Status {
    ASSIGN_OR_RETURN(Statement * find, c.Prepare("SELECT id FROM experiment WHERE name=?"));
    find->Bind(1, experiment);
    ASSIGN_OR_RETURN(bool found, find->Step());
    int64_t experiment_id = found ? find->Int(0) : 0;
    find->Reset();
    if (!found) {
      ExperimentRecord e;
      e.name = experiment;
      e.owner = owner;
      e.kind = spec.kind;
      e.spec_json = "{}";
      RETURN_IF_ERROR(InsertExperiment(c, e, now_ms, &experiment_id));
    }
    return InsertJob(c, experiment_id, spec, now_ms, &job_id);
  }));
  return GetJob(job_id);
}

Status JobStore::RecordLeases(const std::vector<LeaseGrant>& grants, int64_t now_ms,
                              std::vector<bool>* granted) {
  granted->assign(grants.size(), false);
  return writer_->Run([&](Connection& c) -> Status {
    ASSIGN_OR_RETURN(Statement * upd,
                     c.Prepare("UPDATE job SET state=?, live_token=?, worker_id=?, "
                               "attempts=attempts+1 WHERE id=? AND state=?"));
    ASSIGN_OR_RETURN(Statement * ins,
                     c.Prepare("INSERT INTO attempt(token, job_id, worker_id, leased_unix_ms, "
                               "lease_expiry_unix_ms) VALUES (?,?,?,?,?)"));
    for (size_t i = 0; i < grants.size(); ++i) {
      const LeaseGrant& g = grants[i];
      upd->Bind(1, kLeased).Bind(2, g.token).Bind(3, g.worker_id).Bind(4, g.job_id).Bind(5, kPending);
      RETURN_IF_ERROR(upd->Run());
      if (c.Changes() != 1) continue;
      ins->Bind(1, g.token).Bind(2, g.job_id).Bind(3, g.worker_id).Bind(4, now_ms)
          .Bind(5, g.expiry_unix_ms);
      RETURN_IF_ERROR(ins->Run());
      (*granted)[i] = true;
    }
    return Status::Ok();
  });
}

Status JobStore::MarkRunning(const std::vector<std::pair<int64_t, int64_t>>& job_tokens,
                             int64_t now_ms) {
  return writer_->Run([&](Connection& c) -> Status {
    ASSIGN_OR_RETURN(Statement * job,
                     c.Prepare("UPDATE job SET state=?, started_unix_ms=? WHERE id=? AND "
                               "live_token=? AND state=?"));
    ASSIGN_OR_RETURN(Statement * att,
                     c.Prepare("UPDATE attempt SET started_unix_ms=? WHERE token=?"));
    for (auto [job_id, token] : job_tokens) {
      job->Bind(1, kRunning).Bind(2, now_ms).Bind(3, job_id).Bind(4, token).Bind(5, kLeased);
      RETURN_IF_ERROR(job->Run());
      if (c.Changes() != 1) continue;
      att->Bind(1, now_ms).Bind(2, token);
      RETURN_IF_ERROR(att->Run());
    }
    return Status::Ok();
  });
}

Status JobStore::Complete(const std::vector<CompletionRecord>& completions, int64_t now_ms,
                          std::vector<CompletionAck>* acks) {
  acks->assign(completions.size(), CompletionAck{});
  std::vector<int64_t> experiment_of(completions.size(), 0);
  Status st = CompleteInWriter(completions, now_ms, acks, &experiment_of);
  if (!st.ok()) return st;
  std::lock_guard lock(metric_names_mu_);
  for (size_t i = 0; i < completions.size(); ++i) {
    if (!(*acks)[i].accepted) continue;
    auto& names = experiment_metrics_[experiment_of[i]];
    for (const Metric& m : completions[i].output.metrics) {
      metric_names_.insert(m.name);
      if (std::find(names.begin(), names.end(), m.name) == names.end()) names.push_back(m.name);
    }
  }
  return st;
}

std::vector<std::string> JobStore::ExperimentMetricNames(int64_t experiment_id) {
  std::lock_guard lock(metric_names_mu_);
  auto it = experiment_metrics_.find(experiment_id);
  return it == experiment_metrics_.end() ? std::vector<std::string>{} : it->second;
}

Status JobStore::CompleteInWriter(const std::vector<CompletionRecord>& completions, int64_t now_ms,
                                  std::vector<CompletionAck>* acks,
                                  std::vector<int64_t>* experiment_of) {
  return writer_->Run([&](Connection& c) -> Status {
    for (size_t i = 0; i < completions.size(); ++i) {
      const CompletionRecord& r = completions[i];
      CompletionAck& ack = (*acks)[i];
      ack = CompletionAck{r.job_id, false, "", JobState::kPending};
      // Each completion in its own savepoint: a bad one (duplicate metric names) is rejected
      // alone and the rest of the batch still lands.
      RETURN_IF_ERROR(c.Exec("SAVEPOINT completion"));
      Status st = [&]() -> Status {
        JobState target = r.outcome == CompletionOutcome::kSucceeded ? JobState::kSucceeded
                          : r.outcome == CompletionOutcome::kFailed  ? JobState::kFailed
                                                                     : JobState::kPending;
        int64_t finished = r.finished_unix_ms > 0 ? r.finished_unix_ms : now_ms;
        ASSIGN_OR_RETURN(
            Statement * upd,
            c.Prepare("UPDATE job SET state=?, live_token=NULL, last_error=?, "
                      "finished_unix_ms=?, started_unix_ms=CASE WHEN ?>0 THEN ? ELSE "
                      "started_unix_ms END, attempts=attempts-? WHERE id=? AND live_token=? AND "
                      "state IN (?,?)"));
        const bool released = r.outcome == CompletionOutcome::kReleased;
        upd->Bind(1, static_cast<int>(target))
            .Bind(2, r.error)
            .Bind(3, released ? int64_t{0} : finished)
            .Bind(4, r.started_unix_ms)
            .Bind(5, r.started_unix_ms)
            .Bind(6, released ? 1 : 0)  // a released lease does not count as an attempt
            .Bind(7, r.job_id)
            .Bind(8, r.token)
            .Bind(9, kLeased)
            .Bind(10, kRunning);
        RETURN_IF_ERROR(upd->Run());
        if (c.Changes() != 1) {
          ack.reason = "stale fencing token: the lease is no longer live (expired, cancelled or "
                       "already completed)";
          return Status::Ok();
        }
        const char* outcome = r.outcome == CompletionOutcome::kSucceeded ? "succeeded"
                              : r.outcome == CompletionOutcome::kFailed  ? "failed"
                                                                         : "released";
        RETURN_IF_ERROR(FinishAttempt(c, r.token, outcome, r.error, r.started_unix_ms, finished));
        if (r.outcome == CompletionOutcome::kSucceeded) {
          RETURN_IF_ERROR(StoreOutput(c, r.job_id, r.output));
          ASSIGN_OR_RETURN(Statement * exp, c.Prepare("SELECT experiment_id FROM job WHERE id=?"));
          exp->Bind(1, r.job_id);
          ASSIGN_OR_RETURN(bool found, exp->Step());
          if (found) (*experiment_of)[i] = exp->Int(0);
          exp->Reset();
        }
        ack.accepted = true;
        ack.new_state = target;
        return Status::Ok();
      }();
      if (!st.ok()) {
        ack.accepted = false;
        ack.reason = st.message();
        RETURN_IF_ERROR(c.Exec("ROLLBACK TO completion"));
      }
      RETURN_IF_ERROR(c.Exec("RELEASE completion"));
    }
    return Status::Ok();
  });
}

Status JobStore::Expire(const std::vector<std::pair<int64_t, int64_t>>& job_tokens,
                        int64_t now_ms, std::vector<ExpiryOutcome>* outcomes) {
  outcomes->assign(job_tokens.size(), ExpiryOutcome{});
  return writer_->Run([&](Connection& c) -> Status {
    ASSIGN_OR_RETURN(
        Statement * upd,
        c.Prepare("UPDATE job SET live_token=NULL, "
                  "state=CASE WHEN attempts>=max_attempts THEN ? ELSE ? END, "
                  "finished_unix_ms=CASE WHEN attempts>=max_attempts THEN ? ELSE 0 END, "
                  "last_error=CASE WHEN attempts>=max_attempts THEN "
                  "'lease expired on worker ' || worker_id || ' after ' || attempts || "
                  "' attempt(s); max_attempts reached' ELSE "
                  "'lease expired on worker ' || worker_id || '; requeued' END "
                  "WHERE id=? AND live_token=? RETURNING state"));
    for (size_t i = 0; i < job_tokens.size(); ++i) {
      auto [job_id, token] = job_tokens[i];
      (*outcomes)[i].job_id = job_id;
      upd->Bind(1, kFailed).Bind(2, kPending).Bind(3, now_ms).Bind(4, job_id).Bind(5, token);
      ASSIGN_OR_RETURN(bool row, upd->Step());
      if (row) {
        (*outcomes)[i].applied = true;
        (*outcomes)[i].new_state = static_cast<JobState>(upd->Int(0));
      }
      upd->Reset();
      if (row) {
        RETURN_IF_ERROR(FinishAttempt(c, token, "expired", "lease expired", 0, now_ms));
      }
    }
    return Status::Ok();
  });
}

StatusOr<std::vector<int64_t>> JobStore::Cancel(int64_t job_id, const std::string& experiment,
                                                int64_t now_ms) {
  std::vector<int64_t> cancelled;
  RETURN_IF_ERROR(writer_->Run([&](Connection& c) -> Status {
    cancelled.clear();
    std::vector<std::pair<int64_t, int64_t>> targets;  // (job id, live token or 0)
    if (job_id > 0) {
      ASSIGN_OR_RETURN(Statement * s, c.Prepare("SELECT state, live_token FROM job WHERE id=?"));
      s->Bind(1, job_id);
      ASSIGN_OR_RETURN(bool row, s->Step());
      if (!row) {
        s->Reset();
        return Status::NotFound("no job with id " + std::to_string(job_id));
      }
      bool terminal = IsTerminal(static_cast<JobState>(s->Int(0)));
      int64_t token = s->IsNull(1) ? 0 : s->Int(1);
      s->Reset();
      if (!terminal) targets.emplace_back(job_id, token);
    } else {
      ASSIGN_OR_RETURN(Statement * e, c.Prepare("SELECT id FROM experiment WHERE name=?"));
      e->Bind(1, experiment);
      ASSIGN_OR_RETURN(bool found, e->Step());
      int64_t experiment_id = found ? e->Int(0) : 0;
      e->Reset();
      if (!found) return Status::NotFound("no experiment named '" + experiment + "'");
      ASSIGN_OR_RETURN(Statement * s,
                       c.Prepare("SELECT id, live_token FROM job WHERE experiment_id=? AND "
                                 "state IN (?,?,?)"));
      s->Bind(1, experiment_id).Bind(2, kPending).Bind(3, kLeased).Bind(4, kRunning);
      for (;;) {
        ASSIGN_OR_RETURN(bool row, s->Step());
        if (!row) break;
        targets.emplace_back(s->Int(0), s->IsNull(1) ? 0 : s->Int(1));
      }
      s->Reset();
    }
    ASSIGN_OR_RETURN(Statement * upd,
                     c.Prepare("UPDATE job SET state=?, live_token=NULL, finished_unix_ms=?, "
                               "last_error='cancelled by user' WHERE id=? AND state IN (?,?,?)"));
    for (auto [id, token] : targets) {
      upd->Bind(1, kCancelled).Bind(2, now_ms).Bind(3, id).Bind(4, kPending).Bind(5, kLeased)
          .Bind(6, kRunning);
      RETURN_IF_ERROR(upd->Run());
      if (c.Changes() != 1) continue;
      if (token != 0) RETURN_IF_ERROR(FinishAttempt(c, token, "cancelled", "", 0, now_ms));
      cancelled.push_back(id);
    }
    return Status::Ok();
  }));
  return cancelled;
}

Status JobStore::UpsertWorker(const WorkerRecord& w) {
  return writer_->Run([&](Connection& c) -> Status {
    ASSIGN_OR_RETURN(
        Statement * s,
        c.Prepare("INSERT INTO worker(id, host, devices_json, kinds_json, slots, labels_json, "
                  "version, registered_unix_ms, last_heartbeat_unix_ms) VALUES (?,?,?,?,?,?,?,?,?) "
                  "ON CONFLICT(id) DO UPDATE SET host=excluded.host, "
                  "devices_json=excluded.devices_json, kinds_json=excluded.kinds_json, "
                  "slots=excluded.slots, labels_json=excluded.labels_json, "
                  "version=excluded.version, registered_unix_ms=excluded.registered_unix_ms, "
                  "last_heartbeat_unix_ms=excluded.last_heartbeat_unix_ms"));
    s->Bind(1, w.id).Bind(2, w.host).Bind(3, w.devices_json).Bind(4, w.kinds_json).Bind(5, w.slots)
        .Bind(6, w.labels_json).Bind(7, w.version).Bind(8, w.registered_unix_ms)
        .Bind(9, w.last_heartbeat_unix_ms);
    return s->Run();
  });
}

Status JobStore::TouchWorkers(const std::vector<std::pair<std::string, int64_t>>& heartbeats) {
  return writer_->Run([&](Connection& c) -> Status {
    ASSIGN_OR_RETURN(Statement * s,
                     c.Prepare("UPDATE worker SET last_heartbeat_unix_ms=? WHERE id=?"));
    for (const auto& [id, ms] : heartbeats) {
      s->Bind(1, ms).Bind(2, id);
      RETURN_IF_ERROR(s->Run());
    }
    return Status::Ok();
  });
}

StatusOr<std::vector<JobRecord>> JobStore::LoadUnfinishedJobs() {
  WITH_READER(c);
  ASSIGN_OR_RETURN(Statement * s,
                   c.Prepare(std::string("SELECT ") + kJobColumns +
                             " FROM job j JOIN experiment e ON e.id=j.experiment_id "
                             "WHERE j.state IN (?,?,?) ORDER BY j.id"));
  s->Bind(1, kPending).Bind(2, kLeased).Bind(3, kRunning);
  std::vector<JobRecord> jobs;
  for (;;) {
    ASSIGN_OR_RETURN(bool row, s->Step());
    if (!row) break;
    jobs.push_back(ReadJob(*s));
  }
  s->Reset();
  return jobs;
}

StatusOr<int64_t> JobStore::MaxToken() {
  WITH_READER(c);
  ASSIGN_OR_RETURN(Statement * s, c.Prepare("SELECT COALESCE(MAX(token), 0) FROM attempt"));
  ASSIGN_OR_RETURN(bool row, s->Step());
  int64_t max = row ? s->Int(0) : 0;
  s->Reset();
  return max;
}

StatusOr<std::vector<WorkerRecord>> JobStore::LoadWorkers() {
  WITH_READER(c);
  ASSIGN_OR_RETURN(Statement * s,
                   c.Prepare("SELECT id, host, devices_json, kinds_json, slots, labels_json, "
                             "version, registered_unix_ms, last_heartbeat_unix_ms FROM worker "
                             "ORDER BY id"));
  std::vector<WorkerRecord> workers;
  for (;;) {
    ASSIGN_OR_RETURN(bool row, s->Step());
    if (!row) break;
    WorkerRecord w;
    w.id = s->Text(0);
    w.host = s->Text(1);
    w.devices_json = s->Text(2);
    w.kinds_json = s->Text(3);
    w.slots = static_cast<int>(s->Int(4));
    w.labels_json = s->Text(5);
    w.version = s->Text(6);
    w.registered_unix_ms = s->Int(7);
    w.last_heartbeat_unix_ms = s->Int(8);
    workers.push_back(std::move(w));
  }
  s->Reset();
  return workers;
}

StatusOr<JobRecord> JobStore::GetJob(int64_t job_id) {
  WITH_READER(c);
  ASSIGN_OR_RETURN(Statement * s,
                   c.Prepare(std::string("SELECT ") + kJobColumns +
                             " FROM job j JOIN experiment e ON e.id=j.experiment_id WHERE j.id=?"));
  s->Bind(1, job_id);
  ASSIGN_OR_RETURN(bool row, s->Step());
  if (!row) {
    s->Reset();
    return Status::NotFound("no job with id " + std::to_string(job_id));
  }
  JobRecord j = ReadJob(*s);
  s->Reset();
  return j;
}

StatusOr<std::vector<AttemptRecord>> JobStore::GetAttempts(int64_t job_id) {
  WITH_READER(c);
  ASSIGN_OR_RETURN(Statement * s,
                   c.Prepare("SELECT token, job_id, worker_id, leased_unix_ms, started_unix_ms, "
                             "finished_unix_ms, lease_expiry_unix_ms, outcome, error FROM attempt "
                             "WHERE job_id=? ORDER BY token"));
  s->Bind(1, job_id);
  std::vector<AttemptRecord> out;
  for (;;) {
    ASSIGN_OR_RETURN(bool row, s->Step());
    if (!row) break;
    AttemptRecord a;
    a.token = s->Int(0);
    a.job_id = s->Int(1);
    a.worker_id = s->Text(2);
    a.leased_unix_ms = s->Int(3);
    a.started_unix_ms = s->Int(4);
    a.finished_unix_ms = s->Int(5);
    a.lease_expiry_unix_ms = s->Int(6);
    a.outcome = s->Text(7);
    a.error = s->Text(8);
    out.push_back(std::move(a));
  }
  s->Reset();
  return out;
}

namespace {
Metric ReadMetric(const Statement& s, int first_col) {
  Metric m;
  m.name = s.Text(first_col);
  m.value = s.Double(first_col + 1);
  m.unit = s.Text(first_col + 2);
  m.stderr_value = s.Double(first_col + 3);
  m.higher_is_better = s.Int(first_col + 4) != 0;
  return m;
}
}  // namespace

StatusOr<std::vector<Metric>> JobStore::GetMetrics(int64_t job_id) {
  WITH_READER(c);
  ASSIGN_OR_RETURN(Statement * s,
                   c.Prepare("SELECT name, value, unit, stderr, higher_is_better FROM result "
                             "WHERE job_id=? ORDER BY name"));
  s->Bind(1, job_id);
  std::vector<Metric> out;
  for (;;) {
    ASSIGN_OR_RETURN(bool row, s->Step());
    if (!row) break;
    out.push_back(ReadMetric(*s, 0));
  }
  s->Reset();
  return out;
}

StatusOr<std::vector<JobStore::StoredArtifact>> JobStore::GetArtifacts(int64_t job_id,
                                                                       const std::string& name,
                                                                       bool with_content) {
  WITH_READER(c);
  ASSIGN_OR_RETURN(Statement * s,
                   c.Prepare("SELECT name, media_type, length(content), "
                             "CASE WHEN :content THEN content END FROM artifact "
                             "WHERE job_id = :job AND (:name = '' OR name = :name) ORDER BY name, id"));
  s->Bind(s->ParamIndex(":job"), job_id)
      .Bind(s->ParamIndex(":name"), name)
      .Bind(s->ParamIndex(":content"), with_content ? 1 : 0);
  std::vector<StoredArtifact> out;
  for (;;) {
    ASSIGN_OR_RETURN(bool row, s->Step());
    if (!row) break;
    StoredArtifact a;
    a.artifact.name = s->Text(0);
    a.artifact.media_type = s->Text(1);
    a.size_bytes = s->Int(2);
    if (with_content) a.artifact.bytes = s->Blob(3);
    out.push_back(std::move(a));
  }
  s->Reset();
  return out;
}

StatusOr<std::vector<JobRecord>> JobStore::ListJobs(const JobFilter& filter, int64_t before_id,
                                                    int limit) {
  WITH_READER(c);
  CompiledFilter compiled;
  ASSIGN_OR_RETURN(std::string where, FilterSql(filter, MetricNames(), &compiled));
  std::string sql = std::string("SELECT ") + kJobColumns +
                    " FROM job j JOIN experiment e ON e.id=j.experiment_id" + where +
                    " AND j.id < :before ORDER BY j.id DESC LIMIT :limit";
  ASSIGN_OR_RETURN(Statement * s, c.Prepare(sql));
  BindFilter(s, filter, compiled);
  s->Bind(s->ParamIndex(":before"), before_id > 0 ? before_id : std::numeric_limits<int64_t>::max());
  s->Bind(s->ParamIndex(":limit"), static_cast<int64_t>(limit));
  std::vector<JobRecord> out;
  for (;;) {
    ASSIGN_OR_RETURN(bool row, s->Step());
    if (!row) break;
    out.push_back(ReadJob(*s));
  }
  s->Reset();
  return out;
}

StatusOr<int64_t> JobStore::CountJobsUpTo(const JobFilter& filter, int64_t cap, bool* capped) {
  WITH_READER(c);
  CompiledFilter compiled;
  ASSIGN_OR_RETURN(std::string where, FilterSql(filter, MetricNames(), &compiled));
  std::string sql = "SELECT COUNT(*) FROM (SELECT 1 FROM job j JOIN experiment e ON "
                    "e.id=j.experiment_id" + where + " LIMIT :cap)";
  ASSIGN_OR_RETURN(Statement * s, c.Prepare(sql));
  BindFilter(s, filter, compiled);
  s->Bind(s->ParamIndex(":cap"), cap + 1);
  ASSIGN_OR_RETURN(bool row, s->Step());
  int64_t n = row ? s->Int(0) : 0;
  s->Reset();
  *capped = n > cap;
  return std::min(n, cap);
}

StatusOr<int64_t> JobStore::CountJobs(const JobFilter& filter) {
  WITH_READER(c);
  CompiledFilter compiled;
  ASSIGN_OR_RETURN(std::string where, FilterSql(filter, MetricNames(), &compiled));
  std::string sql = "SELECT COUNT(*) FROM job j JOIN experiment e ON e.id=j.experiment_id" + where;
  ASSIGN_OR_RETURN(Statement * s, c.Prepare(sql));
  BindFilter(s, filter, compiled);
  ASSIGN_OR_RETURN(bool row, s->Step());
  int64_t n = row ? s->Int(0) : 0;
  s->Reset();
  return n;
}

namespace {
Status FillCounts(Connection& c, ExperimentRecord* e) {
  ASSIGN_OR_RETURN(Statement * s,
                   c.Prepare("SELECT state, COUNT(*) FROM job WHERE experiment_id=? GROUP BY state"));
  s->Bind(1, e->id);
  for (;;) {
    ASSIGN_OR_RETURN(bool row, s->Step());
    if (!row) break;
    int64_t n = s->Int(1);
    e->total += n;
    switch (static_cast<JobState>(s->Int(0))) {
      case JobState::kPending: e->pending += n; break;
      case JobState::kLeased:
      case JobState::kRunning: e->running += n; break;
      case JobState::kSucceeded: e->succeeded += n; break;
      case JobState::kFailed: e->failed += n; break;
      case JobState::kCancelled: e->cancelled += n; break;
    }
  }
  s->Reset();
  return Status::Ok();
}

ExperimentRecord ReadExperiment(const Statement& s) {
  ExperimentRecord e;
  e.id = s.Int(0);
  e.name = s.Text(1);
  e.owner = s.Text(2);
  e.kind = s.Text(3);
  e.created_unix_ms = s.Int(4);
  e.spec_json = s.Text(5);
  e.tags_json = s.Text(6);
  return e;
}
constexpr const char* kExperimentColumns =
    "SELECT id, name, owner, kind, created_unix_ms, spec_json, tags_json FROM experiment";
}  // namespace

StatusOr<ExperimentRecord> JobStore::GetExperiment(const std::string& name, int64_t id) {
  WITH_READER(c);
  ASSIGN_OR_RETURN(Statement * s,
                   c.Prepare(std::string(kExperimentColumns) + " WHERE name=? OR id=?"));
  s->Bind(1, name).Bind(2, id);
  ASSIGN_OR_RETURN(bool row, s->Step());
  if (!row) {
    s->Reset();
    return Status::NotFound(name.empty() ? "no experiment with id " + std::to_string(id)
                                         : "no experiment named '" + name + "'");
  }
  ExperimentRecord e = ReadExperiment(*s);
  s->Reset();
  RETURN_IF_ERROR(FillCounts(c, &e));
  return e;
}

StatusOr<std::vector<ExperimentRecord>> JobStore::ListExperiments() {
  WITH_READER(c);
  ASSIGN_OR_RETURN(Statement * s, c.Prepare(std::string(kExperimentColumns) + " ORDER BY id"));
  std::vector<ExperimentRecord> out;
  for (;;) {
    ASSIGN_OR_RETURN(bool row, s->Step());
    if (!row) break;
    out.push_back(ReadExperiment(*s));
  }
  s->Reset();
  for (auto& e : out) RETURN_IF_ERROR(FillCounts(c, &e));
  return out;
}

StatusOr<std::vector<ResultRow>> JobStore::QueryResults(int64_t experiment_id, int64_t after_id,
                                                        int limit, const std::string& expression) {
  ASSIGN_OR_RETURN(CompiledFilter compiled, CompileFilter(expression, MetricNames()));
  WITH_READER(c);
  ASSIGN_OR_RETURN(Statement * jobs,
                   c.Prepare("SELECT j.id, e.name, j.kind, j.state, j.params_json, j.last_error "
                             "FROM job j JOIN experiment e ON e.id=j.experiment_id "
                             "WHERE j.experiment_id=:eid AND j.id>:after" +
                             (compiled.sql.empty() ? std::string() : " AND " + compiled.sql) +
                             " ORDER BY j.id LIMIT :limit"));
  jobs->Bind(jobs->ParamIndex(":eid"), experiment_id)
      .Bind(jobs->ParamIndex(":after"), after_id)
      .Bind(jobs->ParamIndex(":limit"), static_cast<int64_t>(limit));
  BindCompiled(jobs, compiled);
  std::vector<ResultRow> rows;
  for (;;) {
    ASSIGN_OR_RETURN(bool row, jobs->Step());
    if (!row) break;
    ResultRow r;
    r.job_id = jobs->Int(0);
    r.experiment = jobs->Text(1);
    r.kind = jobs->Text(2);
    r.state = static_cast<JobState>(jobs->Int(3));
    r.params_json = jobs->Text(4);
    r.last_error = jobs->Text(5);
    rows.push_back(std::move(r));
  }
  jobs->Reset();
  if (rows.empty()) return rows;
  ASSIGN_OR_RETURN(Statement * m,
                   c.Prepare("SELECT job_id, name, value, unit, stderr, higher_is_better "
                             "FROM result WHERE job_id BETWEEN ? AND ? ORDER BY job_id"));
  m->Bind(1, rows.front().job_id).Bind(2, rows.back().job_id);
  size_t k = 0;
  for (;;) {
    ASSIGN_OR_RETURN(bool row, m->Step());
    if (!row) break;
    int64_t job_id = m->Int(0);
    while (k < rows.size() && rows[k].job_id < job_id) ++k;
    if (k < rows.size() && rows[k].job_id == job_id) rows[k].metrics.push_back(ReadMetric(*m, 1));
  }
  m->Reset();
  return rows;
}

StatusOr<std::map<int64_t, std::vector<Metric>>> JobStore::MetricsOf(
    const std::vector<int64_t>& job_ids) {
  std::map<int64_t, std::vector<Metric>> out;
  if (job_ids.empty()) return out;
  WITH_READER(c);
  ASSIGN_OR_RETURN(Statement * s,
                   c.Prepare("SELECT name, value, unit, stderr, higher_is_better FROM result "
                             "WHERE job_id=?"));
  for (int64_t id : job_ids) {
    s->Bind(1, id);
    auto& metrics = out[id];
    for (;;) {
      ASSIGN_OR_RETURN(bool row, s->Step());
      if (!row) break;
      metrics.push_back(ReadMetric(*s, 0));
    }
    s->Reset();
  }
  return out;
}

StatusOr<std::vector<JobStore::MetricPair>> JobStore::MetricPairs(
    int64_t experiment_id, const std::string& x, const std::string& y,
    const std::string& expression, bool* x_higher_is_better, bool* y_higher_is_better,
    bool* x_seen, bool* y_seen) {
  ASSIGN_OR_RETURN(CompiledFilter compiled, CompileFilter(expression, MetricNames()));
  WITH_READER(c);
  ASSIGN_OR_RETURN(Statement * s,
                   c.Prepare("SELECT j.id, rx.value, ry.value, rx.higher_is_better, "
                             "ry.higher_is_better FROM job j JOIN experiment e ON "
                             "e.id = j.experiment_id JOIN result rx ON rx.job_id = j.id AND "
                             "rx.name = :x JOIN result ry ON ry.job_id = j.id AND ry.name = :y "
                             "WHERE j.experiment_id = :eid AND j.state = :ok" +
                             (compiled.sql.empty() ? std::string() : " AND " + compiled.sql) +
                             " ORDER BY j.id"));
  s->Bind(s->ParamIndex(":x"), x)
      .Bind(s->ParamIndex(":y"), y)
      .Bind(s->ParamIndex(":eid"), experiment_id)
      .Bind(s->ParamIndex(":ok"), kSucceeded);
  BindCompiled(s, compiled);
  std::vector<MetricPair> out;
  for (;;) {
    ASSIGN_OR_RETURN(bool row, s->Step());
    if (!row) break;
    out.push_back({s->Int(0), s->Double(1), s->Double(2)});
    *x_higher_is_better = s->Int(3) != 0;
    *y_higher_is_better = s->Int(4) != 0;
  }
  s->Reset();
  *x_seen = *y_seen = !out.empty();
  if (out.empty()) {
    // Say which metric is missing: look each up once.
    ASSIGN_OR_RETURN(Statement * any,
                     c.Prepare("SELECT higher_is_better FROM result r JOIN job j ON j.id = r.job_id "
                               "WHERE j.experiment_id = ? AND r.name = ? LIMIT 1"));
    for (auto [name, seen, higher] : {std::tuple{&x, x_seen, x_higher_is_better},
                                      std::tuple{&y, y_seen, y_higher_is_better}}) {
      any->Bind(1, experiment_id).Bind(2, *name);
      ASSIGN_OR_RETURN(bool row, any->Step());
      *seen = row;
      if (row) *higher = any->Int(0) != 0;
      any->Reset();
    }
  }
  return out;
}

StatusOr<std::map<int64_t, std::string>> JobStore::ParamsOf(const std::vector<int64_t>& job_ids) {
  std::map<int64_t, std::string> out;
  WITH_READER(c);
  ASSIGN_OR_RETURN(Statement * s, c.Prepare("SELECT params_json FROM job WHERE id = ?"));
  for (int64_t id : job_ids) {
    s->Bind(1, id);
    ASSIGN_OR_RETURN(bool row, s->Step());
    if (row) out[id] = s->Text(0);
    s->Reset();
  }
  return out;
}

StatusOr<std::map<std::pair<JobState, std::string>, int64_t>> JobStore::CountByStateAndKind() {
  WITH_READER(c);
  ASSIGN_OR_RETURN(Statement * s,
                   c.Prepare("SELECT state, kind, COUNT(*) FROM job GROUP BY state, kind"));
  std::map<std::pair<JobState, std::string>, int64_t> out;
  for (;;) {
    ASSIGN_OR_RETURN(bool row, s->Step());
    if (!row) break;
    out[{static_cast<JobState>(s->Int(0)), s->Text(1)}] = s->Int(2);
  }
  s->Reset();
  return out;
}

StatusOr<std::vector<LatencySummary>> JobStore::ListLatency(const std::string& device,
                                                           const std::string& arch_prefix,
                                                           const std::string& experiment,
                                                           int64_t after_id, int limit,
                                                           int64_t* last_id, bool with_samples) {
  WITH_READER(c);
  ASSIGN_OR_RETURN(
      Statement * s,
      c.Prepare("SELECT l.id, l.job_id, l.arch_key, l.device, l.batch, l.median_us, l.mean_us, "
                "l.p10_us, l.p90_us, l.cv, l.unstable, length(l.samples_us) / 8, "
                "CASE WHEN :samples THEN l.samples_us END, l.min_us "
                "FROM latency_sample l JOIN job j ON j.id = l.job_id "
                "JOIN experiment e ON e.id = j.experiment_id "
                "WHERE l.id > :after AND (:device = '' OR l.device = :device OR "
                "l.device GLOB :device OR substr(l.device, 1, length(:device) + 1) = :device || ':') "
                "AND (:prefix = '' OR substr(l.arch_key, 1, length(:prefix)) = :prefix) "
                "AND (:exp = '' OR e.name = :exp) ORDER BY l.id LIMIT :limit"));
  s->Bind(s->ParamIndex(":after"), after_id)
      .Bind(s->ParamIndex(":device"), device)
      .Bind(s->ParamIndex(":prefix"), arch_prefix)
      .Bind(s->ParamIndex(":exp"), experiment)
      .Bind(s->ParamIndex(":samples"), with_samples ? 1 : 0)
      .Bind(s->ParamIndex(":limit"), static_cast<int64_t>(limit));
  std::vector<LatencySummary> out;
  *last_id = after_id;
  for (;;) {
    ASSIGN_OR_RETURN(bool row, s->Step());
    if (!row) break;
    LatencySummary l;
    *last_id = s->Int(0);
    l.job_id = s->Int(1);
    l.arch_key = s->Text(2);
    l.device = s->Text(3);
    l.batch = static_cast<int>(s->Int(4));
    l.median_us = s->Double(5);
    l.mean_us = s->Double(6);
    l.p10_us = s->Double(7);
    l.p90_us = s->Double(8);
    l.cv = s->Double(9);
    l.unstable = s->Int(10) != 0;
    l.samples = s->Int(11);
    if (with_samples) {
      std::string blob = s->Blob(12);
      l.samples_us.resize(blob.size() / sizeof(double));
      std::memcpy(l.samples_us.data(), blob.data(), l.samples_us.size() * sizeof(double));
    }
    l.min_us = s->Double(13);
    out.push_back(std::move(l));
  }
  s->Reset();
  return out;
}

StatusOr<std::vector<std::pair<std::string, int64_t>>> JobStore::LatencyDevices() {
  WITH_READER(c);
  ASSIGN_OR_RETURN(Statement * s, c.Prepare("SELECT device, COUNT(*) FROM latency_sample "
                                            "GROUP BY device ORDER BY device"));
  std::vector<std::pair<std::string, int64_t>> out;
  for (;;) {
    ASSIGN_OR_RETURN(bool row, s->Step());
    if (!row) break;
    out.emplace_back(s->Text(0), s->Int(1));
  }
  s->Reset();
  return out;
}

StatusOr<std::vector<LatencySampleSet>> JobStore::GetLatencySamples(int64_t job_id) {
  WITH_READER(c);
  ASSIGN_OR_RETURN(Statement * s,
                   c.Prepare("SELECT arch_key, device, batch, samples_us, median_us, mean_us, "
                             "p10_us, p90_us, min_us, stddev_us, cv, unstable, context_json "
                             "FROM latency_sample WHERE job_id=? ORDER BY id"));
  s->Bind(1, job_id);
  std::vector<LatencySampleSet> out;
  for (;;) {
    ASSIGN_OR_RETURN(bool row, s->Step());
    if (!row) break;
    LatencySampleSet l;
    l.arch_key = s->Text(0);
    l.device = s->Text(1);
    l.batch = static_cast<int>(s->Int(2));
    std::string blob = s->Blob(3);
    l.samples_us.resize(blob.size() / sizeof(double));
    std::memcpy(l.samples_us.data(), blob.data(), l.samples_us.size() * sizeof(double));
    l.median_us = s->Double(4);
    l.mean_us = s->Double(5);
    l.p10_us = s->Double(6);
    l.p90_us = s->Double(7);
    l.min_us = s->Double(8);
    l.stddev_us = s->Double(9);
    l.cv = s->Double(10);
    l.unstable = s->Int(11) != 0;
    l.context_json = s->Text(12);
    out.push_back(std::move(l));
  }
  s->Reset();
  return out;
}

}  // namespace qlab::storage
