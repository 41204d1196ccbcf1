// Benchmark harness for the GEMV kernels: CUDA-event timing of single launches after a warm-up,
// weights rotated through enough copies that every launch streams them from DRAM (not L2),
// median and spread of >= 100 launches, effective bandwidth over all bytes read and written, a
// device-to-device copy measured by the same process as the bandwidth reference, and a check
// of the output against the CPU reference on sampled rows. Used by kernel_bench and by the
// worker's kernel_bench job (kernel_bench_job.h).
//
// Not thread-safe: one GemvBenchmark per thread; it owns a CUDA stream on its device.
#pragma once

#include <cuda_runtime_api.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/job_output.h"
#include "common/status.h"
#include "evaluators/kernels/gemv_cuda.h"
#include "evaluators/kernels/gemv_reference.h"

namespace qlab::kernels {

struct GemvBenchOptions {
  int repetitions = 100;     // timed launches (median over them). Default: 100
  int warmup = 20;           // untimed launches first. Default: 20
  uint64_t seed = 1;         // synthetic data seed. Default: 1
  int64_t rotate_bytes = 0;  // weight bytes cycled through; 0: 2x the L2 size. Default: 0
  int verify_rows = 256;     // rows compared with the CPU reference (0: no check). Default: 256
  int forced_splits = 0;     // fused kernels: 0 lets the planner choose. Default: 0
};

struct GemvDeviceDescription {
  int device = 0;
  std::string name;                // e.g. "NVIDIA H100 80GB HBM3"
  std::string compute_capability;  // e.g. "9.0"
  int num_sms = 0;
  int64_t memory_bytes = 0;
  int64_t l2_bytes = 0;
  int sm_clock_mhz = 0;  // maximum SM clock
  int memory_clock_mhz = 0;
  int memory_bus_bits = 0;
  std::string driver;  // e.g. "13000" (cudaDriverGetVersion)
  std::string ToString() const;
};

struct GemvTiming {
  GemvKernel kernel = GemvKernel::kRazerW4;
  GemvShape shape;
  int repetitions = 0;
  double median_us = 0, mean_us = 0, min_us = 0, p10_us = 0, p90_us = 0, stddev_us = 0;
  int64_t bytes_moved = 0;                 // GemvBytesMoved
  double effective_gbps = 0;               // bytes_moved / median, in GB/s (1e9 bytes per second)
  int rotation_copies = 1;                 // distinct weight buffers cycled through
  std::optional<GemvLaunchConfig> launch;  // fused kernels only
  std::string variant;                     // kernel variant that ran, e.g. "razer_w4/mma_m16n8k16"
  int64_t rows_checked = 0;                // 0 when not verified
  GemvComparison check;                    // against the CPU reference on rows_checked rows
};

class GemvBenchmark {
 public:
  ~GemvBenchmark();
  // Selects `device` and prepares a stream, events and a cuBLAS handle. UNAVAILABLE without a
  // GPU (message from CudaDeviceAvailable), INVALID_ARGUMENT for a device index that does not
  // exist, INTERNAL for other CUDA errors.
  static StatusOr<std::unique_ptr<GemvBenchmark>> Create(int device,
                                                         const GemvBenchOptions& options);

  const GemvDeviceDescription& device() const { return device_; }

  // Median bandwidth of cudaMemcpyAsync device-to-device over a buffer of max(256 MiB, 4x L2),
  // counting bytes read plus written (GB/s); measured once, then cached.
  StatusOr<double> CopyBandwidthGbps();

  // Times one kernel on one shape (synthetic weights and activations for options.seed).
  // `ctx` (optional) is polled for cancellation between phases (CANCELLED).
  // RESOURCE_EXHAUSTED when the weights do not fit in device memory.
  StatusOr<GemvTiming> Run(GemvKernel kernel, const GemvShape& shape,
                           const JobContext* ctx = nullptr);

 private:
  GemvBenchmark() = default;
  StatusOr<std::vector<float>> TimeLaunches(const std::function<Status(int)>& launch,
                                            int repetitions, int warmup);

  GemvBenchOptions options_;
  GemvDeviceDescription device_;
  cudaStream_t stream_ = nullptr;
  std::unique_ptr<CublasFp16Gemv> cublas_;
  std::optional<double> copy_gbps_;
};

// One JSON object (a single line, no trailing newline) describing a timing: device, kernel,
// shape, statistics, bandwidth, launch configuration and check result. copy_gbps and
// cublas_median_us add pct_of_copy_bw and speedup_vs_cublas_fp16 when positive.
std::string GemvTimingToJson(const GemvTiming& t, const GemvDeviceDescription& device,
                             double copy_gbps, double cublas_median_us);

}  // namespace qlab::kernels
