// JobStore (job_store.h): reads of a job's attempts, and the logs their evaluators printed.
#include <algorithm>

#include "storage/job_rows.h"

namespace qlab::storage {

std::string LogTail(std::string log) {
  if (log.size() > kMaxAttemptLogBytes) log.erase(0, log.size() - kMaxAttemptLogBytes);
  return log;
}

Status ReplaceAttemptLog(Connection& c, int64_t token, int64_t job_id, const std::string& log) {
  ASSIGN_OR_RETURN(Statement * s,
                   c.Prepare("INSERT OR REPLACE INTO attempt_log(token, job_id, log) "
                             "VALUES (?,?,?)"));
  const std::string tail = LogTail(log);
  s->Bind(1, token).Bind(2, job_id).BindBlob(3, tail.data(), tail.size());
  return s->Run();
}

Status JobStore::AppendAttemptLogs(const std::vector<AttemptLogChunk>& chunks) {
  if (chunks.empty()) return Status::Ok();
  return writer_->Run([&](Connection& c) -> Status {
    // Only a live attempt's log grows: a late heartbeat of an ended attempt changes nothing.
    // `||` reads the blobs as text without checking it, so bytes survive the concatenation.
    ASSIGN_OR_RETURN(
        Statement * s,
        c.Prepare("INSERT INTO attempt_log(token, job_id, log) "
                  "SELECT ?1, ?2, ?3 WHERE EXISTS (SELECT 1 FROM attempt WHERE token=?1 AND "
                  "job_id=?2 AND outcome='') "
                  "ON CONFLICT(token) DO UPDATE SET "
                  "log=substr(CAST(log || excluded.log AS BLOB), -?4)"));
    for (const AttemptLogChunk& chunk : chunks) {
      if (chunk.bytes.empty()) continue;
      const std::string tail = LogTail(chunk.bytes);
      s->Bind(1, chunk.token).Bind(2, chunk.job_id).BindBlob(3, tail.data(), tail.size())
          .Bind(4, static_cast<int64_t>(kMaxAttemptLogBytes));
      RETURN_IF_ERROR(s->Run());
    }
    return Status::Ok();
  });
}

StatusOr<std::vector<AttemptRecord>> JobStore::GetAttempts(int64_t job_id) {
  WITH_READER(c);
  ASSIGN_OR_RETURN(Statement * s,
                   c.Prepare("SELECT a.token, a.job_id, a.worker_id, a.leased_unix_ms, "
                             "a.started_unix_ms, a.finished_unix_ms, a.lease_expiry_unix_ms, "
                             "a.outcome, a.error, a.failure_class, "
                             "coalesce(length(CAST(l.log AS BLOB)), 0) "
                             "FROM attempt a LEFT JOIN attempt_log l ON l.token = a.token "
                             "WHERE a.job_id=? ORDER BY a.token"));
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
    a.failure_class = s->Text(9);
    a.log_bytes = s->Int(10);
    out.push_back(std::move(a));
  }
  s->Reset();
  return out;
}

StatusOr<JobStore::AttemptLog> JobStore::GetAttemptLog(int64_t job_id, int attempt) {
  ASSIGN_OR_RETURN(std::vector<AttemptRecord> attempts, GetAttempts(job_id));
  if (attempts.empty()) {
    ASSIGN_OR_RETURN(JobRecord job, GetJob(job_id));  // NOT_FOUND for an unknown job
    return Status::NotFound("job " + std::to_string(job.id) + " has not run yet (" +
                            JobStateName(job.state) + ")");
  }
  const int count = static_cast<int>(attempts.size());
  if (attempt < 0 || attempt > count) {
    return Status::InvalidArgument("attempt: job " + std::to_string(job_id) + " has " +
                                   std::to_string(count) + " attempt(s); asked for " +
                                   std::to_string(attempt));
  }
  AttemptLog out;
  out.number = attempt == 0 ? count : attempt;
  out.count = count;
  out.attempt = attempts[out.number - 1];
  WITH_READER(c);
  ASSIGN_OR_RETURN(Statement * s, c.Prepare("SELECT log FROM attempt_log WHERE token=?"));
  s->Bind(1, out.attempt.token);
  ASSIGN_OR_RETURN(bool row, s->Step());
  if (row) out.log = s->Blob(0);
  s->Reset();
  return out;
}

}  // namespace qlab::storage
