#include "worker/devices.h"

#include <unistd.h>

#include <fstream>
#include <sstream>
#include <thread>

#ifdef QLAB_HAVE_CUDA
#include <cuda_runtime_api.h>
#endif

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

uint64_t HostMemoryBytes() {
  long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGE_SIZE);
  return pages > 0 && page > 0 ? static_cast<uint64_t>(pages) * static_cast<uint64_t>(page) : 0;
}

void AddCudaDevices(std::vector<DeviceInfo>* out, std::string* why_not) {
#ifdef QLAB_HAVE_CUDA
  int count = 0;
  cudaError_t err = cudaGetDeviceCount(&count);
  if (err != cudaSuccess) {
    // cudaErrorNoDevice (100) and cudaErrorInsufficientDriver (35) both mean: no usable GPU.
    if (why_not) *why_not = std::string("CUDA runtime: ") + cudaGetErrorString(err);
    cudaGetLastError();
    return;
  }
  int driver = 0, runtime = 0;
  cudaDriverGetVersion(&driver);
  cudaRuntimeGetVersion(&runtime);
  for (int i = 0; i < count; ++i) {
    cudaDeviceProp prop{};
    if (cudaGetDeviceProperties(&prop, i) != cudaSuccess) continue;
    DeviceInfo d;
    d.device_class = 2;
    d.name = "cuda:" + std::to_string(i);
    d.model = prop.name;
    d.memory_bytes = prop.totalGlobalMem;
    d.cores = prop.multiProcessorCount;
    d.compute_capability = std::to_string(prop.major) + "." + std::to_string(prop.minor);
    int clock_khz = 0;
    cudaDeviceGetAttribute(&clock_khz, cudaDevAttrClockRate, i);
    d.clock_mhz = clock_khz / 1000;
    d.driver = "driver " + std::to_string(driver / 1000) + "." + std::to_string(driver % 1000 / 10) +
               ", runtime " + std::to_string(runtime / 1000) + "." +
               std::to_string(runtime % 1000 / 10);
    out->push_back(std::move(d));
  }
  if (count == 0 && why_not) *why_not = "CUDA runtime reports no device";
#else
  (void)out;
  if (why_not) *why_not = "this worker was built without CUDA";
#endif
}

}  // namespace

std::vector<DeviceInfo> DiscoverDevices(std::string* why_no_cuda) {
  std::vector<DeviceInfo> out;
  DeviceInfo cpu;
  cpu.device_class = 1;
  cpu.name = "cpu";
  cpu.model = CpuModel();
  cpu.memory_bytes = HostMemoryBytes();
  cpu.cores = static_cast<int>(std::thread::hardware_concurrency());
  out.push_back(cpu);
  AddCudaDevices(&out, why_no_cuda);
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
