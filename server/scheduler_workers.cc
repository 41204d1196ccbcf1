// Scheduler (scheduler.h): the workers' side of its memory — registration, the views the
// matching reads, draining and drift quarantine.
#include <algorithm>

#include <nlohmann/json.hpp>

#include "server/scheduler.h"

namespace qlab::server {

std::string Scheduler::NewWorkerIdLocked(const std::string& host) {
  std::string base = host.empty() ? "worker" : host;
  for (int n = 1;; ++n) {
    std::string id = base + "-" + std::to_string(n);
    if (!workers_.count(id) && !reserved_worker_ids_.count(id)) return id;
  }
}

StatusOr<std::string> Scheduler::RegisterWorker(WorkerRegistration reg) {
  if (reg.slots <= 0) reg.slots = 1;
  const int64_t now = clock_->NowMs();
  bool reserved = false;
  {
    std::lock_guard lock(mu_);
    if (reg.worker_id.empty()) {
      // Held until the worker is in workers_: two workers of one host registering at once
      // (one per GPU, a Slurm array) must not be handed the same id.
      reg.worker_id = NewWorkerIdLocked(reg.host);
      reserved_worker_ids_.insert(reg.worker_id);
      reserved = true;
    }
  }
  reg.devices_json = DevicesToJson(reg.devices);
  storage::WorkerRecord rec;
  rec.id = reg.worker_id;
  rec.host = reg.host;
  rec.devices_json = reg.devices_json;
  rec.kinds_json = nlohmann::json(std::vector<std::string>(reg.kinds.begin(), reg.kinds.end())).dump();
  rec.slots = reg.slots;
  rec.labels_json = reg.labels_json;
  rec.version = reg.version;
  rec.registered_unix_ms = now;
  rec.last_heartbeat_unix_ms = now;
  Status stored = store_->UpsertWorker(rec);
  std::lock_guard lock(mu_);
  if (reserved) reserved_worker_ids_.erase(rec.id);
  RETURN_IF_ERROR(stored);
  WorkerState& w = workers_[reg.worker_id];
  w.reg = std::move(reg);
  w.registered_unix_ms = now;
  w.last_seen_unix_ms = now;
  w.persisted_seen_unix_ms = now;
  changes_++;
  changed_.notify_all();
  return rec.id;
}

WorkerView Scheduler::ViewLocked(const WorkerState& w, int64_t now) const {
  WorkerView v;
  v.id = w.reg.worker_id;
  v.devices = w.reg.devices;
  v.kinds = w.reg.kinds;
  v.live = w.last_seen_unix_ms > 0 && now - w.last_seen_unix_ms <= options_.worker_live_ms;
  v.quarantined = w.quarantined;
  v.free_slots = w.running_exclusive || w.draining
                     ? 0
                     : std::max(0, w.reg.slots - static_cast<int>(w.running.size()));
  return v;
}

std::vector<WorkerSnapshot> Scheduler::Workers() {
  const int64_t now = clock_->NowMs();
  std::lock_guard lock(mu_);
  std::vector<WorkerSnapshot> out;
  for (const auto& [id, w] : workers_) {
    WorkerSnapshot s;
    s.record.id = id;
    s.record.host = w.reg.host;
    s.record.devices_json = w.reg.devices_json;
    s.record.kinds_json =
        nlohmann::json(std::vector<std::string>(w.reg.kinds.begin(), w.reg.kinds.end())).dump();
    s.record.slots = w.reg.slots;
    s.record.labels_json = w.reg.labels_json;
    s.record.version = w.reg.version;
    s.record.registered_unix_ms = w.registered_unix_ms;
    s.record.last_heartbeat_unix_ms = std::max(w.last_seen_unix_ms, w.persisted_seen_unix_ms);
    s.last_seen_unix_ms = w.last_seen_unix_ms;
    s.live = ViewLocked(w, now).live;
    s.running_job_ids.assign(w.running.begin(), w.running.end());
    s.draining = w.draining;
    s.quarantined = w.quarantined;
    out.push_back(std::move(s));
  }
  return out;
}

Status Scheduler::SetDraining(const std::string& worker_id, bool draining) {
  std::lock_guard lock(mu_);
  auto w = workers_.find(worker_id);
  if (w == workers_.end()) return Status::NotFound("no worker '" + worker_id + "'");
  w->second.draining = draining;
  changes_++;
  changed_.notify_all();  // an undrained worker's long poll may find work at once
  return Status::Ok();
}

void Scheduler::SetQuarantined(const std::string& worker_id, const std::string& device,
                               bool quarantined) {
  std::lock_guard lock(mu_);
  auto w = workers_.find(worker_id);
  if (w == workers_.end()) return;
  if (quarantined) {
    w->second.quarantined.insert(device);
  } else {
    w->second.quarantined.erase(device);
  }
  changes_++;
  changed_.notify_all();
}

Status Scheduler::CheckWorkerDevice(const std::string& worker_id, const std::string& device) {
  std::lock_guard lock(mu_);
  auto w = workers_.find(worker_id);
  if (w == workers_.end()) return Status::NotFound("unknown worker '" + worker_id + "'; register again");
  for (const DeviceInfo& d : w->second.reg.devices) {
    if (d.name == device) return Status::Ok();
  }
  return Status::InvalidArgument("device: worker '" + worker_id + "' registered no device '" +
                                 device + "'");
}

}  // namespace qlab::server
