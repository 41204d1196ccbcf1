// JobStore (job_store.h): drift canaries, their history, and the flags a drift puts on the
// figures measured since the device's last good canary.
#include "storage/job_rows.h"

namespace qlab::storage {
namespace {

CanaryRecord ReadCanary(const Statement& s) {
  CanaryRecord r;
  r.id = s.Int(0);
  r.worker_id = s.Text(1);
  r.device = s.Text(2);
  r.canary = s.Text(3);
  r.measured_unix_ms = s.Int(4);
  r.median_us = s.Double(5);
  r.samples_us = SamplesFromBlob(s.Blob(6));
  r.baseline_median_us = s.Double(7);
  r.baseline_spread_us = s.Double(8);
  r.z = s.Double(9);
  r.verdict = s.Text(10);
  return r;
}

constexpr const char* kCanaryColumns =
    "id, worker_id, device, canary, measured_unix_ms, median_us, samples_us, "
    "baseline_median_us, baseline_spread_us, z, verdict";

}  // namespace

Status JobStore::RecordCanary(CanaryRecord* r, const std::string& flag, int64_t last_good_unix_ms,
                              int64_t* flagged) {
  *flagged = 0;
  return writer_->Run([&](Connection& c) -> Status {
    ASSIGN_OR_RETURN(Statement * ins,
                     c.Prepare("INSERT INTO canary(worker_id, device, canary, measured_unix_ms, "
                               "median_us, samples_us, baseline_median_us, baseline_spread_us, z, "
                               "verdict) VALUES (?,?,?,?,?,?,?,?,?,?)"));
    ins->Bind(1, r->worker_id).Bind(2, r->device).Bind(3, r->canary).Bind(4, r->measured_unix_ms)
        .Bind(5, r->median_us)
        .BindBlob(6, r->samples_us.data(), r->samples_us.size() * sizeof(double))
        .Bind(7, r->baseline_median_us).Bind(8, r->baseline_spread_us).Bind(9, r->z)
        .Bind(10, r->verdict);
    RETURN_IF_ERROR(ins->Run());
    r->id = c.LastInsertRowId();
    // A bounded history: a worker told to measure every 0.3 s must not fill the disk.
    ASSIGN_OR_RETURN(Statement * prune,
                     c.Prepare("DELETE FROM canary WHERE worker_id=?1 AND device=?2 AND id<("
                               "SELECT id FROM canary WHERE worker_id=?1 AND device=?2 "
                               "ORDER BY id DESC LIMIT 1 OFFSET ?3)"));
    prune->Bind(1, r->worker_id).Bind(2, r->device).Bind(3, kMaxCanariesPerDevice - 1);
    RETURN_IF_ERROR(prune->Run());
    if (r->verdict != "drift") return Status::Ok();
    // Timing figures only: a drifting clock does not change an MSE or a perplexity.
    ASSIGN_OR_RETURN(Statement * mark,
                     c.Prepare("UPDATE job SET flag=? WHERE flag='' AND state=? AND "
                               "kind IN ('latency','kernel_bench') AND id IN (SELECT job_id FROM "
                               "attempt WHERE worker_id=? AND device=? AND outcome='succeeded' "
                               "AND finished_unix_ms>?)"));
    mark->Bind(1, flag).Bind(2, kSucceeded).Bind(3, r->worker_id).Bind(4, r->device)
        .Bind(5, last_good_unix_ms);
    RETURN_IF_ERROR(mark->Run());
    *flagged = c.Changes();
    return Status::Ok();
  });
}

StatusOr<std::vector<CanaryRecord>> JobStore::CanaryHistory(const std::string& worker_id,
                                                            const std::string& device, int limit) {
  WITH_READER(c);
  ASSIGN_OR_RETURN(Statement * s,
                   c.Prepare(std::string("SELECT ") + kCanaryColumns +
                             " FROM canary WHERE worker_id=? AND device=? ORDER BY id DESC "
                             "LIMIT ?"));
  s->Bind(1, worker_id).Bind(2, device).Bind(3, static_cast<int64_t>(limit));
  std::vector<CanaryRecord> out;
  for (;;) {
    ASSIGN_OR_RETURN(bool row, s->Step());
    if (!row) break;
    out.push_back(ReadCanary(*s));
  }
  s->Reset();
  return out;
}

StatusOr<std::vector<CanaryRecord>> JobStore::LatestCanaries(std::vector<int64_t>* counts,
                                                             std::vector<int64_t>* last_good) {
  WITH_READER(c);
  ASSIGN_OR_RETURN(
      Statement * s,
      c.Prepare(std::string("SELECT ") + kCanaryColumns +
                ", (SELECT COUNT(*) FROM canary h WHERE h.worker_id=k.worker_id AND "
                "h.device=k.device), (SELECT COALESCE(MAX(g.measured_unix_ms), 0) FROM canary g "
                "WHERE g.worker_id=k.worker_id AND g.device=k.device AND g.verdict!='drift') "
                "FROM canary k WHERE id IN (SELECT MAX(id) FROM canary GROUP BY worker_id, "
                "device) ORDER BY worker_id, device"));
  std::vector<CanaryRecord> out;
  counts->clear();
  last_good->clear();
  for (;;) {
    ASSIGN_OR_RETURN(bool row, s->Step());
    if (!row) break;
    out.push_back(ReadCanary(*s));
    counts->push_back(s->Int(11));
    last_good->push_back(s->Int(12));
  }
  s->Reset();
  return out;
}

}  // namespace qlab::storage
