// JobStore (job_store.h): opening the file, the pooled readers, and the life of jobs —
// submission, leases, cancellation and the job reads the scheduler and the job pages make.
// Completion and expiry are in job_store_completion.cc, attempts and their logs in
// job_store_attempts.cc, results and experiment reads in job_store_reads.cc, latency reads in
// job_store_latency.cc, workers in job_store_workers.cc.
#include "storage/job_store.h"

#include <algorithm>
#include <limits>

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

const char* const kJobColumns =
    "j.id, j.experiment_id, e.name, j.kind, j.params_json, j.device_class, "
    "j.device_model_pattern, j.min_memory_bytes, j.exclusive, j.priority, j.state, j.attempts, "
    "j.max_attempts, j.live_token, j.worker_id, j.last_error, j.created_unix_ms, "
    "j.started_unix_ms, j.finished_unix_ms, j.timeout_s, j.failure_class, j.infra_failures, "
    "j.comparability_key, j.environment_key, j.context_json, j.backend, j.flag";

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
  j.spec.timeout_s = static_cast<int>(s.Int(19));
  j.failure_class = s.Text(20);
  j.infra_failures = static_cast<int>(s.Int(21));
  j.comparability.comparability_key = s.Text(22);
  j.comparability.environment_key = s.Text(23);
  j.comparability.context_json = s.Text(24);
  j.comparability.backend = s.Text(25);
  j.flag = s.Text(26);
  return j;
}


// Every row of a bound job query; the statement is reset after.
StatusOr<std::vector<JobRecord>> ReadJobs(Statement* s) {
  std::vector<JobRecord> jobs;
  for (;;) {
    auto row = s->Step();
    if (!row.ok()) {
      s->Reset();
      return row.status();
    }
    if (!*row) break;
    jobs.push_back(ReadJob(*s));
  }
  s->Reset();
  return jobs;
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
    // on (completions add to both).
    ASSIGN_OR_RETURN(Statement * names,
                     conn->Prepare("SELECT experiment_id, name FROM experiment_metric ORDER BY id"));
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
    RETURN_IF_ERROR(InsertJobs(c, created.experiment_id, jobs, now_ms, &created.first_job_id));
    return Status::Ok();
  }));
  return created;
}

StatusOr<JobStore::Created> JobStore::ExtendExperiment(int64_t experiment_id,
                                                       const std::vector<JobSpec>& jobs,
                                                       const std::vector<int64_t>& requeue,
                                                       int64_t now_ms,
                                                       std::vector<int64_t>* requeued) {
  Created created;
  created.experiment_id = experiment_id;
  requeued->clear();
  RETURN_IF_ERROR(writer_->Run([&](Connection& c) -> Status {
    requeued->clear();
    ASSIGN_OR_RETURN(Statement * again,
                     c.Prepare("UPDATE job SET state=?, attempts=0, infra_failures=0, "
                               "failure_class='', last_error='', worker_id='', started_unix_ms=0, "
                               "finished_unix_ms=0 WHERE id=? AND experiment_id=? AND "
                               "state IN (?,?)"));
    for (int64_t id : requeue) {
      again->Bind(1, kPending).Bind(2, id).Bind(3, experiment_id).Bind(4, kFailed)
          .Bind(5, kCancelled);
      RETURN_IF_ERROR(again->Run());
      if (c.Changes() == 1) requeued->push_back(id);
    }
    RETURN_IF_ERROR(InsertJobs(c, experiment_id, jobs, now_ms, &created.first_job_id));
    return Status::Ok();
  }));
  std::vector<std::pair<int64_t, JobSpec>> stored;
  for (size_t i = 0; i < jobs.size() && columns_.Tracks(experiment_id); ++i) {
    stored.emplace_back(created.first_job_id + static_cast<int64_t>(i), jobs[i]);
  }
  NoteJobsStored(experiment_id, stored);
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
    return InsertJobs(c, experiment_id, {spec}, now_ms, &job_id);
  }));
  ASSIGN_OR_RETURN(JobRecord job, GetJob(job_id));
  NoteJobsStored(job.experiment_id, {{job_id, spec}});
  return job;
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
                               "lease_expiry_unix_ms, device) VALUES (?,?,?,?,?,?)"));
    for (size_t i = 0; i < grants.size(); ++i) {
      const LeaseGrant& g = grants[i];
      upd->Bind(1, kLeased).Bind(2, g.token).Bind(3, g.worker_id).Bind(4, g.job_id).Bind(5, kPending);
      RETURN_IF_ERROR(upd->Run());
      if (c.Changes() != 1) continue;
      ins->Bind(1, g.token).Bind(2, g.job_id).Bind(3, g.worker_id).Bind(4, now_ms)
          .Bind(5, g.expiry_unix_ms).Bind(6, g.device);
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

std::vector<std::string> JobStore::ExperimentMetricNames(int64_t experiment_id) {
  std::lock_guard lock(metric_names_mu_);
  auto it = experiment_metrics_.find(experiment_id);
  return it == experiment_metrics_.end() ? std::vector<std::string>{} : it->second;
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
      if (token != 0) RETURN_IF_ERROR(FinishAttempt(c, token, "cancelled", "", "", 0, now_ms));
      cancelled.push_back(id);
    }
    return Status::Ok();
  }));
  return cancelled;
}

StatusOr<std::vector<JobRecord>> JobStore::ExperimentJobs(int64_t experiment_id) {
  WITH_READER(c);
  ASSIGN_OR_RETURN(Statement * s,
                   c.Prepare(std::string("SELECT ") + kJobColumns +
                             " FROM job j JOIN experiment e ON e.id=j.experiment_id "
                             "WHERE j.experiment_id=? ORDER BY j.id"));
  s->Bind(1, experiment_id);
  return ReadJobs(s);
}

StatusOr<std::vector<JobRecord>> JobStore::LoadUnfinishedJobs() {
  WITH_READER(c);
  ASSIGN_OR_RETURN(Statement * s,
                   c.Prepare(std::string("SELECT ") + kJobColumns +
                             " FROM job j JOIN experiment e ON e.id=j.experiment_id "
                             "WHERE j.state IN (?,?,?) ORDER BY j.id"));
  s->Bind(1, kPending).Bind(2, kLeased).Bind(3, kRunning);
  return ReadJobs(s);
}

StatusOr<int64_t> JobStore::MaxToken() {
  WITH_READER(c);
  ASSIGN_OR_RETURN(Statement * s, c.Prepare("SELECT COALESCE(MAX(token), 0) FROM attempt"));
  ASSIGN_OR_RETURN(bool row, s->Step());
  int64_t max = row ? s->Int(0) : 0;
  s->Reset();
  return max;
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


StatusOr<std::vector<JobRecord>> JobStore::JobsById(const std::vector<int64_t>& ids_newest_first) {
  std::vector<JobRecord> out;
  if (ids_newest_first.empty()) return out;
  WITH_READER(c);
  ASSIGN_OR_RETURN(Statement * s,
                   c.Prepare(std::string("SELECT ") + kJobColumns +
                             " FROM job j JOIN experiment e ON e.id=j.experiment_id WHERE j.id=?"));
  out.reserve(ids_newest_first.size());
  for (int64_t id : ids_newest_first) {
    s->Bind(1, id);
    ASSIGN_OR_RETURN(bool row, s->Step());
    if (row) out.push_back(ReadJob(*s));
    s->Reset();
  }
  return out;
}

StatusOr<std::vector<JobRecord>> JobStore::ListJobs(const JobFilter& filter, int64_t before_id,
                                                    int limit) {
  const int64_t before = before_id > 0 ? before_id : std::numeric_limits<int64_t>::max();
  ASSIGN_OR_RETURN(std::optional<ColumnPlan> plan, PlanWithColumns(filter));
  if (plan) return JobsById(MatchingIds(*plan, filter, before, static_cast<size_t>(std::max(0, limit))));
  WITH_READER(c);
  CompiledFilter compiled;
  ASSIGN_OR_RETURN(std::string where, FilterSql(filter, MetricNames(), &compiled));
  std::string sql = std::string("SELECT ") + kJobColumns +
                    " FROM job j JOIN experiment e ON e.id=j.experiment_id" + where +
                    " AND j.id < :before ORDER BY j.id DESC LIMIT :limit";
  ASSIGN_OR_RETURN(Statement * s, c.Prepare(sql));
  BindFilter(s, filter, compiled);
  s->Bind(s->ParamIndex(":before"), before);
  s->Bind(s->ParamIndex(":limit"), static_cast<int64_t>(limit));
  return ReadJobs(s);
}

StatusOr<int64_t> JobStore::CountJobsUpTo(const JobFilter& filter, int64_t cap, bool* capped) {
  ASSIGN_OR_RETURN(std::optional<ColumnPlan> plan, PlanWithColumns(filter));
  if (plan) {
    const int64_t n = CountMatching(*plan, filter, cap + 1);
    *capped = n > cap;
    return std::min(n, cap);
  }
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
  ASSIGN_OR_RETURN(std::optional<ColumnPlan> plan, PlanWithColumns(filter));
  if (plan) return CountMatching(*plan, filter, std::numeric_limits<int64_t>::max());
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

}  // namespace qlab::storage
