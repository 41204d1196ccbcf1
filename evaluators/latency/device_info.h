// Host and device facts recorded with every latency sample set (reference latency-protocol.md,
// "Record the context"): CPU model, CPU counts, affinity, governor and clock where readable,
// GPU model from the NVIDIA driver's /proc entries. Torch-free; the LibTorch facts (version,
// threads in effect, CUDA) are added by the builder (network_builder.h).
#pragma once

#include <nlohmann/json.hpp>
#include <string>

namespace qlab::latency {

struct HostInfo {
  std::string hostname;
  std::string cpu_model;  // "model name" of /proc/cpuinfo; "unknown" when absent
  int logical_cpus = 0;   // online logical CPUs (sysconf)
  int allowed_cpus = 0;   // CPUs in this process's affinity mask (what threads can use)
  std::string governor;   // cpu0 scaling_governor, "" when not readable (VMs, containers)
  double cpu_mhz = 0;     // "cpu MHz" of the first processor in /proc/cpuinfo, 0 if absent
  std::string kernel;     // uname -r
};

// Reads the facts above. Never fails: unreadable facts stay empty/0.
HostInfo ReadHostInfo();

// The GPU model the NVIDIA driver reports for the `ordinal`-th GPU (sorted by PCI bus id) from
// /proc/driver/nvidia/gpus/*/information, or "" when unavailable.
std::string ReadNvidiaGpuModel(int ordinal);

nlohmann::json ToJson(const HostInfo& info);

// "2024-05-01T12:34:56Z" for now (UTC).
std::string UtcTimestamp();

}  // namespace qlab::latency
