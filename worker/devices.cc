#include "worker/devices.h"

#include <unistd.h>

#include <fstream>
#include <sstream>
#include <thread>

#include "evaluators/kernels/kernel_bench_job.h"

namespace qlab::worker {
namespace {

std::string CpuModel() {
  std::ifstream in("/proc/cpuinfo");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("model name", 0) == 0) {
      auto colon = line.find(':');
      if (colon != std::string::npos) return line.substr(line.find_first_not_of(" \t", colon + 1));
    }
  }
  return "unknown CPU";
}


}  // namespace

uint64_t HostMemoryBytes() {
  long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGE_SIZE);
  return pages > 0 && page > 0 ? static_cast<uint64_t>(pages) * static_cast<uint64_t>(page) : 0;
}

std::vector<DeviceInfo> DiscoverDevices(std::string* why_no_cuda) {
  std::vector<DeviceInfo> out;
  DeviceInfo cpu;
  cpu.device_class = 1;
  cpu.name = "cpu";
  cpu.model = CpuModel();
  cpu.memory_bytes = HostMemoryBytes();
  cpu.cores = static_cast<int>(std::thread::hardware_concurrency());
  out.push_back(cpu);
  for (auto& gpu : kernels::CudaDevices(why_no_cuda)) out.push_back(std::move(gpu));
  return out;
}

StatusOr<std::vector<DeviceInfo>> SelectDevices(const std::vector<DeviceInfo>& found,
                                                const std::string& selection) {
  if (selection.empty()) return found;
  std::vector<DeviceInfo> out;
  std::stringstream in(selection);
  std::string name;
  while (std::getline(in, name, ',')) {
    if (name.empty()) continue;
    bool hit = false;
    for (const auto& d : found) {
      if (d.name == name) {
        out.push_back(d);
        hit = true;
      }
    }
    if (!hit) {
      std::string have;
      for (const auto& d : found) have += (have.empty() ? "" : ", ") + d.name;
      return Status::InvalidArgument("--devices: '" + name + "' was not found on this machine "
                                     "(found: " + have + ")");
    }
  }
  if (out.empty()) return Status::InvalidArgument("--devices selects no device");
  return out;
}

}  // namespace qlab::worker
