#include "worker/canary.h"

#include <chrono>
#include <cstdlib>

#include "evaluators/kernels/kernel_bench_job.h"
#include "evaluators/latency/sample_stats.h"

namespace qlab::worker {
namespace {

CanaryMeasurement CpuCanary() {
  constexpr size_t kFloats = 64 * 1024;  // 256 KiB
  constexpr int kPasses = 16;
  constexpr int kRepetitions = 11;
  constexpr int kWarmupRepetitions = 12;
  std::vector<float> buffer(kFloats);
  for (size_t i = 0; i < kFloats; ++i) buffer[i] = 1.0f + static_cast<float>(i % 7) * 1e-3f;
  CanaryMeasurement m;
  m.canary = "cpu-fma-stream-v1";
  volatile float sink = 0;
  // Untimed first: a thread that slept is owed CPU time by the kernel's scheduler and would
  // run its first milliseconds ahead of any co-tenant, hiding the contention it should see.
  for (int rep = -kWarmupRepetitions; rep < kRepetitions; ++rep) {
    const auto start = std::chrono::steady_clock::now();
    float acc = 0;
    for (int pass = 0; pass < kPasses; ++pass) {
      for (size_t i = 0; i < kFloats; ++i) {
        buffer[i] = buffer[i] * 0.999f + 1e-4f;
        acc = acc * 0.5f + buffer[i];  // a dependent chain: the compiler cannot reorder it away
      }
    }
    sink = sink + acc;
    const auto end = std::chrono::steady_clock::now();
    if (rep >= 0) m.samples_us.push_back(std::chrono::duration<double, std::micro>(end - start).count());
  }
  m.median_us = latency::Summarize(m.samples_us).median;
  return m;
}

StatusOr<CanaryMeasurement> CudaCanary(const DeviceInfo& device) {
  kernels::KernelBenchParams p;
  p.kernel = "int4_asym";
  p.n = 4096;
  p.k = 4096;
  p.batch = 1;
  p.repetitions = 50;
  p.device_kind = "cuda";
  p.device = std::atoi(device.name.substr(device.name.find(':') + 1).c_str());
  JobContext context;
  ASSIGN_OR_RETURN(JobOutput out, kernels::RunKernelBenchJob(p, context));
  CanaryMeasurement m;
  m.canary = "cuda-gemv-int4-v1";
  for (const Metric& metric : out.metrics) {
    if (metric.name == "median_us") m.median_us = metric.value;
  }
  if (m.median_us <= 0) return Status::Internal("the CUDA canary reported no median_us");
  m.samples_us.push_back(m.median_us);
  return m;
}

}  // namespace

StatusOr<CanaryMeasurement> RunCanary(const DeviceInfo& device) {
  if (device.device_class == 1) return CpuCanary();
  if (device.device_class == 2) return CudaCanary(device);
  return Status::Unimplemented("no drift canary for device class " +
                               std::string(DeviceClassName(device.device_class)));
}

}  // namespace qlab::worker
