#include "server/matching.h"

#include <algorithm>
#include <cctype>


namespace qlab::server {

bool DeviceSatisfies(const storage::Requirements& req, const DeviceInfo& device) {
  if (req.device_class != 0 && req.device_class != device.device_class) return false;
  if (!req.device_model_pattern.empty() && !GlobMatch(req.device_model_pattern, device.model)) {
    return false;
  }
  if (req.min_memory_bytes > 0 && device.memory_bytes < req.min_memory_bytes) return false;
  return true;
}

const DeviceInfo* FindDevice(const std::string& kind, const storage::Requirements& req,
                             const WorkerView& worker) {
  if (!worker.kinds.count(kind)) return nullptr;
  for (const DeviceInfo& d : worker.devices) {
    if (d.RunsKind(kind) && DeviceSatisfies(req, d)) return &d;
  }
  return nullptr;
}

bool CanRun(const std::string& kind, const storage::Requirements& req, const WorkerView& worker) {
  return FindDevice(kind, req, worker) != nullptr;
}

std::string PendingReason(const std::string& kind, const storage::Requirements& req,
                          const std::vector<WorkerView>& workers) {
  int live = 0, with_kind = 0, with_class = 0, with_model = 0, with_memory = 0, matching = 0, free = 0;
  for (const WorkerView& w : workers) {
    if (!w.live) continue;
    ++live;
    if (!w.kinds.count(kind)) continue;
    ++with_kind;
    bool cls = false, model = false, memory = false, all = false;
    for (const DeviceInfo& d : w.devices) {
      if (req.device_class != 0 && d.device_class != req.device_class) continue;
      cls = true;
      if (!req.device_model_pattern.empty() && !GlobMatch(req.device_model_pattern, d.model)) {
        continue;
      }
      model = true;
      if (req.min_memory_bytes > 0 && d.memory_bytes < req.min_memory_bytes) continue;
      memory = true;
      if (!d.RunsKind(kind)) continue;
      all = true;
    }
    with_class += cls;
    with_model += model;
    with_memory += memory;
    if (all) {
      ++matching;
      if (w.free_slots > 0) ++free;
    }
  }
  if (live == 0) return "no live worker is connected";
  if (with_kind == 0) return "no live worker runs jobs of kind " + kind;
  if (with_class == 0) {
    return std::string("no live worker has device class ") + DeviceClassName(req.device_class);
  }
  if (with_model == 0) {
    return "no live worker has a device whose model matches '" + req.device_model_pattern + "'";
  }
  if (with_memory == 0) {
    return "no live worker has a matching device with at least " +
           std::to_string(req.min_memory_bytes) + " bytes of memory";
  }
  if (matching == 0) {
    const bool torch_kind = kind == "latency" || kind == "accuracy" || kind == "predictor";
    return "no live worker runs " + kind + " jobs on a matching " +
           DeviceClassName(req.device_class) + " device" +
           (torch_kind && req.device_class == 2
                ? ": their LibTorch has no CUDA support (a worker needs a CUDA-enabled LibTorch)"
                : "");
  }
  if (free == 0) {
    return "all " + std::to_string(matching) + " matching worker(s) are busy";
  }
  return "queued behind higher-priority or older jobs";
}

}  // namespace qlab::server
