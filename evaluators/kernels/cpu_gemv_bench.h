// Timing harness of the CPU GEMV kernels, shared by the `kernel_bench` job on CPU workers and
// the standalone `cpu_kernel_bench`: the kernel, a streaming read of the same bytes and the
// FP32 BLAS GEMV of the same shape (the user's alternative on a CPU), measured in one run.
//
// How it times: a sample is N back-to-back calls (the kernel's and the read's samples interleaved,
// see TimeCpuCallsInterleaved; the BLAS's after them, as its threads spin after each call) (N chosen after >= warmup_ms of warm-up so a
// sample is >= min_sample_us), the median and percentiles are per call over `repetitions`
// samples. Calls rotate through copies of the operand totalling >= 2x the last-level cache, so
// every call reads its weights from DRAM, as decoding a model larger than the cache does.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "common/status.h"
#include "evaluators/kernels/cpu_gemv.h"
#include "evaluators/kernels/gemv_reference.h"

namespace qlab::kernels {

struct CpuBenchOptions {
  int repetitions = 30;          // timed samples, 1..100000
  double min_sample_us = 200.0;  // a sample's least duration
  double warmup_ms = 50.0;       // least warm-up time per measured function
  int64_t rotation_bytes = 0;    // operand copies total at least this; 0: 2x the LLC
  int threads = 0;               // <= 0: all hardware threads
  CpuIsa isa = CpuIsa::kPortable;
  ActivationMode activations = ActivationMode::kFp32;
  int64_t check_rows = 64;       // rows of W compared with the reference
  int prefetch_bytes = kDefaultCpuGemvPrefetchBytes;
  uint64_t seed = 1;
};

struct CpuTiming {
  double median_us = 0, p10_us = 0, p90_us = 0, stddev_us = 0;
  int calls_per_sample = 0;
  int samples = 0;
};

// A function to time: fn(copy) for copy = 0, 1, ..., copies-1, 0, ... (see above).
struct TimedCall {
  std::function<void(int copy)> fn;
  int copies = 1;
};

// Times the calls side by side: after each one's warm-up, sample i of every call is taken
// before sample i+1 of any, so a machine that slows down for a while slows all of them alike
// and their ratios stay meaningful. One CpuTiming per call, in order.
std::vector<CpuTiming> TimeCpuCallsInterleaved(const std::vector<TimedCall>& calls,
                                               const CpuBenchOptions& options);

// The last-level cache size in bytes (48 MiB if the system does not say).
int64_t LastLevelCacheBytes();

// What the FP32 BLAS is: "OpenBLAS 0.3.21 ... (2 threads)", or why there is none.
std::string BlasDescription();
bool HaveBlas();

struct CpuGemvBenchResult {
  CpuGemvFormat format = CpuGemvFormat::kInt4Asym;
  int64_t n = 0, k = 0;
  int m = 1;
  CpuIsa isa = CpuIsa::kPortable;
  ActivationMode activations = ActivationMode::kFp32;
  int threads = 1;
  CpuTiming kernel;
  CpuTiming read;           // streaming read of the packed weight bytes
  CpuTiming blas;           // FP32 GEMV (m = 1) or GEMM (m > 1) of the same shape
  bool have_blas = false;
  int64_t weight_bytes = 0, bytes_moved = 0;
  int rotation_copies = 1;
  double effective_gbps = 0, read_bw_gbps = 0, blas_effective_gbps = 0;
  GemvComparison check;        // kernel vs reference on check_rows rows (synthetic codes)
  int64_t rows_checked = 0;
  double weight_rel_err = 0;      // y(Wq, x) vs y(W, x) on Gaussian weights, rms / rms
  double activation_rel_err = 0;  // y(Wq, x_int8) vs y(Wq, x): the int8 mode's added error
  double pct_of_read_bw() const { return read_bw_gbps > 0 ? 100.0 * effective_gbps / read_bw_gbps : 0; }
  double speedup_vs_blas() const { return have_blas && kernel.median_us > 0 ? blas.median_us / kernel.median_us : 0; }
};

// Benchmarks one shape: synthetic random codes, FP16-exact activations. INVALID_ARGUMENT for a
// bad shape, FAILED_PRECONDITION for an unsupported isa, RESOURCE_EXHAUSTED when the operands
// (with the BLAS matrix, n*k*4 bytes) would not fit in memory, CANCELLED when `cancelled`
// returns true between phases.
StatusOr<CpuGemvBenchResult> RunCpuGemvBenchmark(CpuGemvFormat format, int64_t n, int64_t k, int m,
                                                 const CpuBenchOptions& options,
                                                 const std::function<bool()>& cancelled = {});

}  // namespace qlab::kernels
