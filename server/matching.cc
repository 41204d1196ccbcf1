#include "server/matching.h"

#include <algorithm>
#include <cctype>

#include <nlohmann/json.hpp>

#include "evaluators/datatypes/registry.h"


namespace qlab::server {

bool DeviceSatisfies(const storage::Requirements& req, const DeviceInfo& device) {
  if (req.device_class != 0 && req.device_class != device.device_class) return false;
  if (!req.device_model_pattern.empty() && !GlobMatch(req.device_model_pattern, device.model)) {
    return false;
  }
  if (req.min_memory_bytes > 0 && device.memory_bytes < req.min_memory_bytes) return false;
  return DeviceRunsFormat(device, req.format, req.native_format);
}

void FormatRequirement(const std::string& kind, const std::string& params_json,
                       storage::Requirements* req) {
  req->format.clear();
  req->native_format = false;
  if (kind != "kernel_bench" && kind != "quantize" && kind != "accuracy") return;
  const auto params = nlohmann::json::parse(params_json, nullptr, false);
  if (!params.is_object()) return;
  auto read = [&](const char* key) {
    auto it = params.find(key);
    return it != params.end() && it->is_string() ? it->get<std::string>() : std::string();
  };
  std::string format = read("datatype");
  if (kind == "kernel_bench") {
    if (format.empty()) format = read("kernel");
    if (format == "razer_w4") format = "razer_fp4";
    if (format == "fp16_cublas") format = "fp16";
    req->native_format = true;
  }
  // Only the registry's names: anything else is the evaluator's to refuse, not a capability.
  if (datatypes::FindDatatype(format) != nullptr) req->format = format;
}

bool QuarantineApplies(const std::string& kind) {
  return kind == "latency" || kind == "kernel_bench";
}

const DeviceInfo* FindDevice(const std::string& kind, const storage::Requirements& req,
                             const WorkerView& worker) {
  if (!worker.kinds.count(kind)) return nullptr;
  const bool timing = QuarantineApplies(kind);
  for (const DeviceInfo& d : worker.devices) {
    if (timing && worker.quarantined.count(d.name)) continue;
    if (d.RunsKind(kind) && DeviceSatisfies(req, d)) return &d;
  }
  return nullptr;
}

bool CanRun(const std::string& kind, const storage::Requirements& req, const WorkerView& worker) {
  return FindDevice(kind, req, worker) != nullptr;
}

std::string PendingReason(const std::string& kind, const storage::Requirements& req,
                          const std::vector<WorkerView>& workers) {
  int live = 0, with_kind = 0, with_class = 0, with_model = 0, with_memory = 0, with_format = 0,
      matching = 0, quarantined = 0, free = 0;
  for (const WorkerView& w : workers) {
    if (!w.live) continue;
    ++live;
    if (!w.kinds.count(kind)) continue;
    ++with_kind;
    bool cls = false, model = false, memory = false, format = false, all = false;
    for (const DeviceInfo& d : w.devices) {
      if (req.device_class != 0 && d.device_class != req.device_class) continue;
      cls = true;
      if (!req.device_model_pattern.empty() && !GlobMatch(req.device_model_pattern, d.model)) {
        continue;
      }
      model = true;
      if (req.min_memory_bytes > 0 && d.memory_bytes < req.min_memory_bytes) continue;
      memory = true;
      if (!DeviceRunsFormat(d, req.format, req.native_format)) continue;
      format = true;
      if (!d.RunsKind(kind)) continue;
      if (QuarantineApplies(kind) && w.quarantined.count(d.name)) {
        ++quarantined;
        continue;
      }
      all = true;
    }
    with_class += cls;
    with_model += model;
    with_memory += memory;
    with_format += format;
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
  if (with_format == 0) {
    return "no live worker has a matching device that runs datatype " + req.format +
           (req.native_format ? " natively (" + kind + " times a packed kernel; the devices' "
                                "capability matrices list none for it: qlab workers --formats)"
                              : " (qlab workers --formats shows what each device runs)");
  }
  if (matching == 0 && quarantined > 0) {
    return "every matching device is quarantined: its drift canary measured it outside its "
           "baseline (it takes timing jobs again after a canary within bounds; qlab workers)";
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
