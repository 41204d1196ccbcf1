#include "common/device.h"

#include <algorithm>

#include <nlohmann/json.hpp>

namespace qlab {

const char* DeviceClassName(int device_class) {
  switch (device_class) {
    case 1: return "cpu";
    case 2: return "cuda";
    case 3: return "npu";
    default: return "any";
  }
}

int ParseDeviceClass(std::string_view name) {
  if (name.empty() || name == "any") return 0;
  if (name == "cpu") return 1;
  if (name == "cuda" || name == "gpu") return 2;
  if (name == "npu") return 3;
  return -1;
}

bool DeviceRunsFormat(const DeviceInfo& device, const std::string& format, bool native) {
  if (format.empty() || device.formats.empty()) return true;
  auto it = device.formats.find(format);
  if (it == device.formats.end()) return false;
  return !native || it->second == "native";
}

std::string DevicesToJson(const std::vector<DeviceInfo>& devices) {
  nlohmann::json out = nlohmann::json::array();
  for (const DeviceInfo& d : devices) {
    out.push_back({{"device_class", DeviceClassName(d.device_class)},
                   {"name", d.name},
                   {"model", d.model},
                   {"memory_bytes", d.memory_bytes},
                   {"cores", d.cores},
                   {"driver", d.driver},
                   {"compute_capability", d.compute_capability},
                   {"clock_mhz", d.clock_mhz},
                   {"kinds", d.kinds},
                   {"formats", d.formats}});
  }
  return out.dump();
}

std::vector<DeviceInfo> DevicesFromJson(const std::string& json) {
  std::vector<DeviceInfo> devices;
  nlohmann::json in = nlohmann::json::parse(json, nullptr, /*allow_exceptions=*/false);
  if (!in.is_array()) return devices;
  for (const auto& d : in) {
    if (!d.is_object()) continue;
    DeviceInfo info;
    info.device_class = std::max(0, ParseDeviceClass(d.value("device_class", "")));
    info.name = d.value("name", "");
    info.model = d.value("model", "");
    info.memory_bytes = d.value("memory_bytes", uint64_t{0});
    info.cores = d.value("cores", 0);
    info.driver = d.value("driver", "");
    info.compute_capability = d.value("compute_capability", "");
    info.clock_mhz = d.value("clock_mhz", 0);
    if (d.contains("kinds") && d["kinds"].is_array()) {
      for (const auto& k : d["kinds"]) {
        if (k.is_string()) info.kinds.push_back(k.get<std::string>());
      }
    }
    if (d.contains("formats") && d["formats"].is_object()) {
      for (const auto& [name, level] : d["formats"].items()) {
        if (level.is_string()) info.formats[name] = level.get<std::string>();
      }
    }
    devices.push_back(std::move(info));
  }
  return devices;
}

}  // namespace qlab
