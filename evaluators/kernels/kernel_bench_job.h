// The worker's entry point for `kernel_bench` jobs (DESIGN.md section 6): time one GEMV kernel
// on one shape and batch on one CUDA device, together with the cuBLAS FP16 baseline, a
// device-to-device copy and a read-only streaming kernel measured in the same run, and check
// its output against the CPU reference: a failed check fails the job. Plain C++ header (no CUDA
// types), so the worker compiles it with or without CUDA; in a build without CUDA every job
// reports UNAVAILABLE.
//
// Metrics (name, unit, direction):
//   median_us (us, lower), p10_us, p90_us (us, lower), stddev_us (us): per launch, over the
//     samples (each sample times launches_per_sample back-to-back launches, gemv_bench.h)
//   effective_gbps (GB/s, higher): all bytes of W, x and y / median time
//   read_bw_gbps (GB/s, higher): the read-only streaming kernel over the bytes of W and x
//   pct_of_read_bw (%, higher) = 100 * effective_gbps / read_bw_gbps
//   copy_bw_gbps (GB/s, higher): cudaMemcpy device-to-device, read + write bytes / time
//   pct_of_copy_bw (%, higher) = 100 * effective_gbps / copy_bw_gbps
//   cublas_fp16_median_us (us, lower), speedup_vs_cublas_fp16 (x, higher)
//   max_rel_err (lower): max |y - y_ref| / max(|y_ref|, rms(y_ref)) over rows_checked rows;
//     bound kGemvRelErrBound (4e-3); check_ok (always 1: a failed check fails the job)
//   rows_checked, bytes_moved (bytes), bits_per_weight (bits), rotation_copies
//   launches_per_sample (launches timed by one event pair), warmup_ms (ms of GPU time)
//   launch_threads (threads per block), launch_blocks (blocks in the grid), launch_grid_x
//     (row blocks of 64 rows), launch_grid_y (K splits), launch_smem_bytes (bytes per block),
//     launch_blocks_per_sm (resident blocks per SM), launch_waves (blocks / resident blocks of
//     the device), workspace_bytes (bytes): fused kernels only
// Artifact "kernel_bench.json" (application/json): the device, the kernel variant that ran, its
// launch configuration and every figure above, as one JSON object.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "common/device.h"
#include "common/job_output.h"
#include "common/status.h"
#include "evaluators/kernels/gemv_format.h"
#include "evaluators/kernels/gemv_reference.h"

namespace qlab::kernels {

struct KernelBenchParams {
  // CUDA: "razer_w4" | "int4_asym" | "nvfp4" | "fp16_cublas"; CPU: a CpuGemvFormat name
  // ("int4_asym", "nvfp4", "razer_fp4", "int8_asym", "e2m1"). Params `datatype` or `kernel`.
  std::string kernel;
  int64_t n = 0;          // output features (rows of W); 0 with `model`
  int64_t k = 0;          // reduction length; multiple of 128 for the 4-bit kernels
  int batch = 1;          // 1..8
  int repetitions = 100;  // timed samples (of launches_per_sample launches each); Default: 100
  int device = 0;         // CUDA device index; Default: 0
  std::string device_kind = "cuda";  // "cuda" or "cpu" (params `device`: cpu | cuda:N | N)
  int group_size = 0;     // 0: the format's own (16 for nvfp4, else 128); no other is built
  int threads = 0;        // CPU: threads, 0 = all hardware threads
  std::string activations = "fp32";  // CPU: fp32 | int8
  std::string isa;                   // CPU: "" = the best this CPU has, or a CpuIsa name
  std::string model;                 // time every block-linear shape of this model instead
};

// True when this build has CUDA and a usable GPU; otherwise false with *why_not (if non-null)
// saying why ("built without CUDA", "no GPU: cudaGetDeviceCount returned ...").
bool CudaAvailable(std::string* why_not);

// The CUDA devices a worker can advertise: device_class 2 (cuda), name "cuda:<index>", model
// (e.g. "NVIDIA H100 80GB HBM3"), memory_bytes, cores (SMs), driver (CUDA driver version, e.g.
// "13.0"), compute_capability ("9.0"), clock_mhz (maximum SM clock; 0 if unknown). Empty when
// CudaAvailable() is false, with *why_not (if non-null) saying why. Thread-safe.
std::vector<DeviceInfo> CudaDevices(std::string* why_not);

// Runs one kernel_bench job. Checks params first: INVALID_ARGUMENT for an unknown kernel, a bad
// shape (naming m/n/k), batch outside 1..8, repetitions outside 1..100000, or a device index
// that does not exist. UNAVAILABLE when CudaAvailable() is false. CANCELLED when ctx is
// cancelled between phases (progress is reported through ctx). RESOURCE_EXHAUSTED when the
// weights do not fit on the device. INTERNAL when the output check of the kernel, or of the
// cuBLAS baseline it is compared with, fails (KernelBenchCheckStatus): the job ends FAILED.
StatusOr<JobOutput> RunKernelBenchJob(const KernelBenchParams& params, JobContext& ctx);

// The output check of one timed kernel, as the job judges it.
struct KernelBenchCheck {
  GemvKernel kernel = GemvKernel::kRazerW4;
  GemvShape shape;
  int64_t rows_checked = 0;  // sampled weight rows compared (x every batch row)
  GemvComparison comparison;
  int worst_batch = -1;  // batch row and weight row of comparison.worst_index
  int64_t worst_row = -1;
};

// OK when rows were checked and comparison.ok(); otherwise INTERNAL naming the kernel, the
// shape and batch, max_rel_err against kGemvRelErrBound, the non-finite outputs and where the
// worst output is, e.g. "kernel_bench: razer_w4 output check failed for m=8 n=4096 k=4096:
// max_rel_err 0.031 > bound 0.004 (0 non-finite) at batch row 3, weight row 1234; 256 rows
// checked". Plain C++ (no GPU), so the verdict is unit-tested everywhere.
Status KernelBenchCheckStatus(const KernelBenchCheck& check);

}  // namespace qlab::kernels
