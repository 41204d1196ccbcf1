// Host and device facts recorded with every latency sample set (reference latency-protocol.md,
// "Record the context"): CPU model, CPU counts, affinity, governor and clock where readable,
// GPU model from the NVIDIA driver's /proc entries. Torch-free; the LibTorch facts (version,
// threads in effect, CUDA) are added by the builder (network_builder.h).
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

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

// Driver and clocks of CUDA device `ordinal` as nvidia-smi reports them now (it reads NVML);
// empty/0 when nvidia-smi is missing or does not answer within 5 s.
struct NvidiaGpuState {
  std::string driver;
  int sm_clock_mhz = 0, mem_clock_mhz = 0, max_sm_clock_mhz = 0;
};
NvidiaGpuState ReadNvidiaGpuState(int ordinal);

nlohmann::json ToJson(const HostInfo& info);

// Measures how much CPU other processes used while this one measured: the evidence that a
// latency measurement was (or was not) alone on the host. Reads /proc/stat and /proc/self/stat
// (10 ms jiffies, so short intervals are coarse). Construction starts the interval.
class HostLoadMeter {
 public:
  HostLoadMeter();
  struct Reading {
    double interval_s = 0;
    double other_busy_cpus = 0;  // mean number of CPUs kept busy by other processes
    double steal_cpus = 0;       // mean number of CPUs taken by the hypervisor (VMs)
    bool valid = false;          // false when /proc was unreadable
  };
  // Since construction. Thread-compatible.
  Reading Read() const;

 private:
  struct Ticks {
    long long busy = 0, steal = 0, self = 0;
    bool ok = false;
  };
  static Ticks Now();
  Ticks start_;
  double start_s_ = 0;
};

// The CPUs in this thread's affinity mask, ascending (empty when unreadable).
std::vector<int> AllowedCpus();

// Restricts the calling thread to `cpus` for the object's lifetime and restores the previous
// mask afterwards. Pinning keeps the scheduler from migrating the measuring thread mid-sample
// and lets other processes settle on the remaining CPUs. Best effort: ok() says whether the
// mask was applied (an empty list or a refused mask leaves the thread as it was).
class ScopedCpuPin {
 public:
  explicit ScopedCpuPin(const std::vector<int>& cpus);
  ~ScopedCpuPin();
  ScopedCpuPin(const ScopedCpuPin&) = delete;
  ScopedCpuPin& operator=(const ScopedCpuPin&) = delete;
  bool ok() const { return applied_; }

 private:
  bool applied_ = false;
  std::vector<int> previous_;
};

// "2024-05-01T12:34:56Z" for now (UTC).
std::string UtcTimestamp();

}  // namespace qlab::latency
