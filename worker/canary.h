// Drift canaries (README "Can I trust this number?"): a short fixed workload per device whose
// time should not change while the device does not. The worker runs one at start and
// periodically while idle; the coordinator judges it (server/canary_monitor.h).
//
// CPU: "cpu-fma-stream-v1", one thread, a dependent multiply-add chain over a 256 KiB buffer
// (core clock and L2), 12 untimed repetitions then 11 timed ones; ~2.5 ms a repetition on a
// 2.8 GHz core, ~60 ms a canary. CUDA:
// "cuda-gemv-int4-v1", the int4_asym fused GEMV at n = k = 4096, batch 1, 50 timed launches
// (the kernel_bench evaluator's own timing). Changing a workload changes its name: canaries
// of different names never share a baseline.
#pragma once

#include <string>
#include <vector>

#include "common/device.h"
#include "common/status.h"

namespace qlab::worker {

struct CanaryMeasurement {
  std::string canary;               // the workload's name and version
  double median_us = 0;
  std::vector<double> samples_us;   // one per repetition
};

// UNIMPLEMENTED for a device class without a canary (NPU), or what the CUDA timing returned.
StatusOr<CanaryMeasurement> RunCanary(const DeviceInfo& device);

}  // namespace qlab::worker
