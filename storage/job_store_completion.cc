// JobStore (job_store.h): how leases end — completions, classified by their failure class and
// stored with their outputs and logs in the transaction that ends the job, and expiries.
#include <algorithm>

#include "storage/job_rows.h"

namespace qlab::storage {
namespace {

// What a completion does to its job: the state it ends in, and whether its attempt counts.
struct CompletionDecision {
  JobState target = JobState::kFailed;
  std::string job_failure_class;  // for FAILED
  std::string error;
  bool refund = false;            // the attempt does not count toward max_attempts
  bool infrastructure = false;    // it counts toward the infrastructure limit instead
};

CompletionDecision Decide(const CompletionRecord& r, const std::string& attempt_class,
                          int attempts, int max_attempts, int infra_failures, int infra_limit) {
  CompletionDecision d;
  d.error = r.error;
  switch (r.outcome) {
    case CompletionOutcome::kSucceeded:
      d.target = JobState::kSucceeded;
      return d;
    case CompletionOutcome::kReleased:
      d.target = JobState::kPending;
      d.refund = true;  // a stopping worker gave it back untouched
      return d;
    case CompletionOutcome::kFailed:
      break;
  }
  if (attempt_class == kCrash) {
    if (attempts >= max_attempts) {
      d.job_failure_class = kPoison;
      d.error = "the evaluator crashed on all " + std::to_string(attempts) +
                " attempt(s) (max_attempts); last: " + r.error;
    } else {
      d.target = JobState::kPending;
      d.error = r.error + " (evaluator crash on attempt " + std::to_string(attempts) + " of " +
                std::to_string(max_attempts) + "; retrying)";
    }
    return d;
  }
  if (attempt_class == kInfrastructure) {
    d.refund = true;
    d.infrastructure = true;
    if (infra_failures + 1 >= infra_limit) {
      d.job_failure_class = kInfrastructure;
      d.error = r.error + " (" + std::to_string(infra_failures + 1) +
                " attempts lost to infrastructure: the server's limit)";
    } else {
      d.target = JobState::kPending;
      d.error = r.error + " (infrastructure; retrying without spending an attempt)";
    }
    return d;
  }
  d.job_failure_class = kJobError;
  return d;
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

}  // namespace

Status JobStore::Complete(const std::vector<CompletionRecord>& completions, int64_t now_ms,
                          std::vector<CompletionAck>* acks) {
  acks->assign(completions.size(), CompletionAck{});
  std::vector<int64_t> experiment_of(completions.size(), 0);
  Status st = CompleteInWriter(completions, now_ms, acks, &experiment_of);
  if (!st.ok()) return st;
  std::map<int64_t, std::vector<ColumnIndex::Success>> successes;
  for (size_t i = 0; i < completions.size(); ++i) {
    const CompletionRecord& r = completions[i];
    if (!(*acks)[i].accepted || r.outcome != CompletionOutcome::kSucceeded) continue;
    if (!columns_.Tracks(experiment_of[i])) continue;
    // As stored: the keys are written only with a context.
    const bool keyed = !r.comparability.context_json.empty();
    successes[experiment_of[i]].push_back(
        {r.job_id, r.output.metrics, keyed ? r.comparability.environment_key : std::string(),
         keyed && r.comparability.backend == "fallback"});
  }
  for (auto& [experiment_id, done] : successes) columns_.OnSucceeded(experiment_id, std::move(done));
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

Status JobStore::StoreNewMetricNames(Connection& c, int64_t experiment_id,
                                     const std::vector<Metric>& metrics) {
  std::vector<const std::string*> unseen;
  {
    // Almost every completion brings names its experiment has: only new ones are written.
    std::lock_guard lock(metric_names_mu_);
    auto it = experiment_metrics_.find(experiment_id);
    for (const Metric& m : metrics) {
      if (it == experiment_metrics_.end() ||
          std::find(it->second.begin(), it->second.end(), m.name) == it->second.end()) {
        unseen.push_back(&m.name);
      }
    }
  }
  if (unseen.empty()) return Status::Ok();
  ASSIGN_OR_RETURN(Statement * s, c.Prepare("INSERT OR IGNORE INTO experiment_metric(experiment_id, "
                                            "name) VALUES (?,?)"));
  for (const std::string* name : unseen) {
    s->Bind(1, experiment_id).Bind(2, *name);
    RETURN_IF_ERROR(s->Run());
  }
  return Status::Ok();
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
        const std::string attempt_class =
            r.outcome != CompletionOutcome::kFailed ? std::string()
            : r.failure_class == kCrash || r.failure_class == kInfrastructure
                ? r.failure_class
                : std::string(kJobError);
        ASSIGN_OR_RETURN(Statement * live,
                         c.Prepare("SELECT attempts, max_attempts, infra_failures FROM job "
                                   "WHERE id=? AND live_token=? AND state IN (?,?)"));
        live->Bind(1, r.job_id).Bind(2, r.token).Bind(3, kLeased).Bind(4, kRunning);
        ASSIGN_OR_RETURN(bool is_live, live->Step());
        if (!is_live) {
          live->Reset();
          ack.reason = "stale fencing token: the lease is no longer live (expired, cancelled or "
                       "already completed)";
          return Status::Ok();
        }
        const int attempts = static_cast<int>(live->Int(0));
        const int max_attempts = static_cast<int>(live->Int(1));
        const int infra_failures = static_cast<int>(live->Int(2));
        live->Reset();
        const CompletionDecision d = Decide(r, attempt_class, attempts, max_attempts,
                                            infra_failures, max_infra_failures_);
        const int64_t finished = r.finished_unix_ms > 0 ? r.finished_unix_ms : now_ms;
        ASSIGN_OR_RETURN(
            Statement * upd,
            c.Prepare("UPDATE job SET state=?, live_token=NULL, last_error=?, failure_class=?, "
                      "finished_unix_ms=?, started_unix_ms=CASE WHEN ?>0 THEN ? ELSE "
                      "started_unix_ms END, attempts=attempts-?, infra_failures=infra_failures+? "
                      "WHERE id=? AND live_token=?"));
        const bool requeued = d.target == JobState::kPending;
        upd->Bind(1, static_cast<int>(d.target))
            .Bind(2, d.error)
            .Bind(3, d.job_failure_class)
            .Bind(4, requeued ? int64_t{0} : finished)
            .Bind(5, r.started_unix_ms)
            .Bind(6, r.started_unix_ms)
            .Bind(7, d.refund ? 1 : 0)
            .Bind(8, d.infrastructure ? 1 : 0)
            .Bind(9, r.job_id)
            .Bind(10, r.token);
        RETURN_IF_ERROR(upd->Run());
        const char* outcome = r.outcome == CompletionOutcome::kSucceeded ? "succeeded"
                              : r.outcome == CompletionOutcome::kFailed  ? "failed"
                                                                         : "released";
        RETURN_IF_ERROR(
            FinishAttempt(c, r.token, outcome, r.error, attempt_class, r.started_unix_ms, finished));
        if (!r.log.empty()) RETURN_IF_ERROR(ReplaceAttemptLog(c, r.token, r.job_id, r.log));
        if (r.outcome == CompletionOutcome::kSucceeded) {
          RETURN_IF_ERROR(StoreOutput(c, r.job_id, r.output));
          if (!r.comparability.context_json.empty()) {
            ASSIGN_OR_RETURN(Statement * keys,
                             c.Prepare("UPDATE job SET comparability_key=?, environment_key=?, "
                                       "context_json=?, backend=? WHERE id=?"));
            keys->Bind(1, r.comparability.comparability_key)
                .Bind(2, r.comparability.environment_key)
                .Bind(3, r.comparability.context_json)
                .Bind(4, r.comparability.backend)
                .Bind(5, r.job_id);
            RETURN_IF_ERROR(keys->Run());
          }
          ASSIGN_OR_RETURN(Statement * exp, c.Prepare("SELECT experiment_id FROM job WHERE id=?"));
          exp->Bind(1, r.job_id);
          ASSIGN_OR_RETURN(bool found, exp->Step());
          if (found) (*experiment_of)[i] = exp->Int(0);
          exp->Reset();
          RETURN_IF_ERROR(StoreNewMetricNames(c, (*experiment_of)[i], r.output.metrics));
        }
        ack.accepted = true;
        ack.new_state = d.target;
        ack.attempt_refunded = d.refund;
        ack.failure_class = d.job_failure_class;
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
        c.Prepare("UPDATE job SET live_token=NULL, attempts=attempts-1, "
                  "infra_failures=infra_failures+1, "
                  "state=CASE WHEN infra_failures+1>=?1 THEN ?2 ELSE ?3 END, "
                  "finished_unix_ms=CASE WHEN infra_failures+1>=?1 THEN ?4 ELSE 0 END, "
                  "failure_class=CASE WHEN infra_failures+1>=?1 THEN 'infrastructure' ELSE '' END, "
                  "last_error=CASE WHEN infra_failures+1>=?1 THEN "
                  "'lease expired on worker ' || worker_id || '; ' || (infra_failures+1) || "
                  "' attempts lost to infrastructure: the server''s limit' ELSE "
                  "'lease expired on worker ' || worker_id || '; requeued without spending an "
                  "attempt' END "
                  "WHERE id=?5 AND live_token=?6 RETURNING state"));
    for (size_t i = 0; i < job_tokens.size(); ++i) {
      auto [job_id, token] = job_tokens[i];
      (*outcomes)[i].job_id = job_id;
      upd->Bind(1, max_infra_failures_).Bind(2, kFailed).Bind(3, kPending).Bind(4, now_ms)
          .Bind(5, job_id).Bind(6, token);
      ASSIGN_OR_RETURN(bool row, upd->Step());
      if (row) {
        (*outcomes)[i].applied = true;
        (*outcomes)[i].new_state = static_cast<JobState>(upd->Int(0));
      }
      upd->Reset();
      if (row) {
        RETURN_IF_ERROR(
            FinishAttempt(c, token, "expired", "lease expired", kInfrastructure, 0, now_ms));
      }
    }
    return Status::Ok();
  });
}

}  // namespace qlab::storage
