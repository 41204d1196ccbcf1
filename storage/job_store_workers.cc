// JobStore: the worker table (registrations, heartbeats, the list read on start).
#include "storage/job_store.h"

#include <string>
#include <utility>
#include <vector>

#include "storage/job_rows.h"

namespace qlab::storage {

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

}  // namespace qlab::storage
