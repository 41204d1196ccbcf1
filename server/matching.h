// Capability matching: which worker device can run a job, and why a job still waits.
//
// Pure functions over plain structs, so the rules are unit-tested without a server.
#pragma once

#include <cstdint>
#include <set>
#include <string_view>
#include <string>
#include <vector>

#include "common/device.h"
#include "common/glob.h"
#include "storage/records.h"

namespace qlab::server {

using qlab::DeviceInfo;

// What the scheduler knows about a worker when matching.
struct WorkerView {
  std::string id;
  std::vector<DeviceInfo> devices;
  std::set<std::string> kinds;
  bool live = false;
  int free_slots = 0;
  // Devices whose drift canary failed: they take no timing job (QuarantineApplies).
  std::set<std::string> quarantined;
};

// Whether a quarantined device is closed to jobs of `kind`: the kinds that report timings.
bool QuarantineApplies(const std::string& kind);

bool DeviceSatisfies(const storage::Requirements& req, const DeviceInfo& device);

// Sets req->format and req->native_format from a job's params: kernel_bench needs a native
// kernel for its `datatype` (or `kernel`; razer_w4 is razer_fp4, fp16_cublas is fp16); quantize
// and accuracy run their `datatype` emulated or native; other kinds need no format.
void FormatRequirement(const std::string& kind, const std::string& params_json,
                       storage::Requirements* req);

// The first device of `worker` that runs `kind` and satisfies `req`, or nullptr. Device class
// UNSPECIFIED prefers the worker's first device.
const DeviceInfo* FindDevice(const std::string& kind, const storage::Requirements& req,
                             const WorkerView& worker);

// Whether `worker` could ever run a job of this kind and requirements (ignoring load).
bool CanRun(const std::string& kind, const storage::Requirements& req, const WorkerView& worker);

// A sentence saying why a PENDING job waits, for the CLI and dashboard, e.g.
// "no live worker has device class cuda" or "all 2 matching workers are busy".
std::string PendingReason(const std::string& kind, const storage::Requirements& req,
                          const std::vector<WorkerView>& workers);


}  // namespace qlab::server
