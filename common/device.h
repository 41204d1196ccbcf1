// A compute device as workers advertise it and the scheduler matches it.
#pragma once

#include <algorithm>
#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

namespace qlab {

struct DeviceInfo {
  int device_class = 0;            // qlab.v1.DeviceClass value: 1 cpu, 2 cuda, 3 npu
  std::string name;                // "cpu", "cuda:0"
  std::string model;
  uint64_t memory_bytes = 0;
  int cores = 0;                   // CPU cores or GPU multiprocessors
  std::string driver;
  std::string compute_capability;  // CUDA only, "9.0"
  int clock_mhz = 0;
  // Job kinds this device runs; empty = every kind its worker runs.
  std::vector<std::string> kinds;
  // Capability matrix: datatype -> "native" | "emulated"; absent = does not run here. Empty =
  // not probed (constrains nothing).
  std::map<std::string, std::string> formats;

  bool RunsKind(const std::string& kind) const {
    return kinds.empty() || std::find(kinds.begin(), kinds.end(), kind) != kinds.end();
  }
};

// "cpu" | "cuda" | "npu" | "any" and back; ParseDeviceClass returns -1 for unknown names and
// accepts "gpu" for cuda.
const char* DeviceClassName(int device_class);
int ParseDeviceClass(std::string_view name);

// Whether `device` runs `format` ("" = no datatype asked for), natively when `native`. A device
// that was not probed (no formats) runs everything.
bool DeviceRunsFormat(const DeviceInfo& device, const std::string& format, bool native);

// JSON array form stored in worker.devices_json and shown by the API. FromJson skips entries
// it cannot read and returns {} for text that is not a JSON array.
std::string DevicesToJson(const std::vector<DeviceInfo>& devices);
std::vector<DeviceInfo> DevicesFromJson(const std::string& json);

}  // namespace qlab
