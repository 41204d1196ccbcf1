// Benchmark harness for the GEMV kernels. Timing: a sample is one CUDA event pair around N
// back-to-back launches (N chosen from the warm-up so that a sample is >= 200 us of GPU time),
// queued behind a hold kernel that keeps the stream waiting until the host has queued the whole
// sample, so the host's launch cost is never counted; the per-launch time of a sample is its
// time / N. Warm-up: launches for >= 50 ms of GPU time (an idle GPU starts at a low clock).
// Weights are rotated through enough copies that every launch streams them from DRAM (not L2).
// Reported: median and spread of the per-launch times of >= 100 samples, effective bandwidth
// over all bytes read and written, two references measured by the same process: a
// device-to-device copy and a read-only streaming kernel over the GEMV's own read byte count,
// and a check of the output against the CPU reference on sampled rows. Used by kernel_bench and
// by the worker's kernel_bench job (kernel_bench_job.h).
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

// A timed sample holds at most this many launches: the hold kernel blocks the stream until
// the host has queued all of them, and the stream's queue of pending work is finite.
inline constexpr int kMaxLaunchesPerSample = 256;

struct GemvBenchOptions {
  int repetitions = 100;       // timed samples (median over them). Default: 100
  double warmup_ms = 50;       // GPU time of untimed launches first (>= 1 launch). Default: 50
  double min_sample_us = 200;  // GPU time a sample should reach; launches per sample =
                               // ceil(min_sample_us / warm-up time of one launch), at most
                               // kMaxLaunchesPerSample. Default: 200
  uint64_t seed = 1;           // synthetic data seed. Default: 1
  int64_t rotate_bytes = 0;    // weight bytes cycled through; 0: 2x the L2 size. Default: 0
  int verify_rows = 256;       // rows compared with the CPU reference (0: no check). Default: 256
  int forced_splits = 0;       // fused kernels: 0 lets the planner choose. Default: 0
  bool read_reference = true;  // Run also times the read-only reference. Default: true
};

// How one launch sequence was timed (TimeLaunches).
struct GemvSamples {
  std::vector<float> per_launch_us;  // one per sample: sample time / launches_per_sample
  int launches_per_sample = 0;
  double warmup_ms = 0;  // GPU time spent warming up
  int warmup_launches = 0;
  // Samples whose hold kernel gave up (100 ms) before the host had queued them: the host's
  // launch cost may be included. 0 on a healthy machine.
  int host_bound_samples = 0;
};

// The read-only streaming reference over one byte count.
struct GemvReadTiming {
  int64_t bytes = 0;        // bytes read per launch
  double median_us = 0;     // per launch
  double read_bw_gbps = 0;  // bytes / median, GB/s
  int rotation_copies = 1;  // distinct buffers cycled through
  int launches_per_sample = 0;
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
  int repetitions = 0;  // samples timed
  int launches_per_sample = 0;
  double warmup_ms = 0;  // GPU time of the warm-up launches
  int warmup_launches = 0;
  int host_bound_samples = 0;  // GemvSamples::host_bound_samples
  // Per launch, over the samples.
  double median_us = 0, mean_us = 0, min_us = 0, p10_us = 0, p90_us = 0, stddev_us = 0;
  int64_t bytes_moved = 0;    // GemvBytesMoved
  double effective_gbps = 0;  // bytes_moved / median, in GB/s (1e9 bytes per second)
  int rotation_copies = 1;    // distinct weight buffers cycled through
  // The read-only reference over the bytes the GEMV reads (W and x; bytes_moved less y),
  // measured in the same Run; bytes 0 when options.read_reference is false.
  GemvReadTiming read;
  std::optional<GemvLaunchConfig> launch;  // fused kernels only
  std::string variant;                     // kernel variant that ran, e.g. "razer_w4/mma_m16n8k16"
  int64_t rows_checked = 0;                // 0 when not verified
  GemvComparison check;                    // against the CPU reference on rows_checked rows
  int worst_batch = -1;                    // batch row and weight row of check.worst_index
  int64_t worst_row = -1;
  // 100 * effective_gbps / read.read_bw_gbps; 0 without the reference.
  double pct_of_read_bw() const;
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

  // The read-only streaming kernel (gemv_bench_kernels.h) over `bytes` (rounded up to 16),
  // buffers rotated as the weights are, timed as the kernels are. RESOURCE_EXHAUSTED when one
  // buffer does not fit in free device memory; INVALID_ARGUMENT for bytes <= 0.
  StatusOr<GemvReadTiming> ReadBandwidth(int64_t bytes);

  // Times one kernel on one shape (synthetic weights and activations for options.seed).
  // `ctx` (optional) is polled for cancellation between phases (CANCELLED).
  // RESOURCE_EXHAUSTED when the weights do not fit in device memory.
  StatusOr<GemvTiming> Run(GemvKernel kernel, const GemvShape& shape,
                           const JobContext* ctx = nullptr);

 private:
  GemvBenchmark() = default;
  // Warms up, then times `samples` samples of back-to-back launches (file comment). launch(i)
  // enqueues launch number i on stream_ (i counts up across warm-up and samples).
  StatusOr<GemvSamples> TimeLaunches(const std::function<Status(int)>& launch, int samples);
  // GPU time (us) of `count` launches queued behind the hold kernel, numbered from *next on.
  StatusOr<double> TimeBatch(const std::function<Status(int)>& launch, int count, int* next,
                             bool* host_bound);

  GemvBenchOptions options_;
  GemvDeviceDescription device_;
  cudaStream_t stream_ = nullptr;
  cudaEvent_t start_ = nullptr, stop_ = nullptr;
  unsigned* hold_host_ = nullptr;    // mapped pinned [2]: release flag, timed-out flag
  unsigned* hold_device_ = nullptr;  // the same words as the device sees them
  int read_blocks_ = 0;              // grid of the read kernel
  std::unique_ptr<CublasFp16Gemv> cublas_;
  std::optional<double> copy_gbps_;
};

// One JSON object (a single line, no trailing newline) describing a timing: device, kernel,
// shape, how it was timed (samples, launches_per_sample, warmup_ms), statistics, bandwidth and
// the read reference (read_bw_gbps, pct_of_read_bw), launch configuration and check result.
// copy_gbps and cublas_median_us add pct_of_copy_bw and speedup_vs_cublas_fp16 when positive.
std::string GemvTimingToJson(const GemvTiming& t, const GemvDeviceDescription& device,
                             double copy_gbps, double cublas_median_us);

}  // namespace qlab::kernels
