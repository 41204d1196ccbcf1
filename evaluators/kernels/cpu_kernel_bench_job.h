// `kernel_bench` jobs on CPU devices (params `device: cpu`, kernel_bench_params.h): one shape,
// or every distinct block-linear shape of a model, timed with the CPU GEMV kernels beside a
// streaming read of the same bytes and the FP32 BLAS GEMV of the same shape (cpu_gemv_bench.h),
// outputs checked against the reference first: a failed check fails the job.
//
// Metrics (one shape):
//   median_us, p10_us, p90_us, stddev_us (us, lower): per call
//   effective_gbps (GB/s, higher): packed W + x + y bytes / median
//   read_bw_gbps (GB/s, higher): streaming read of the same weight bytes, same threads
//   pct_of_read_bw (%, higher) = 100 * effective_gbps / read_bw_gbps
//   fp32_blas_median_us (us, lower), speedup_vs_fp32_blas (x, higher): absent without CBLAS
//   max_rel_err (lower; bound kCpuGemvRelErrBound), check_ok (1), rows_checked
//   weight_rel_err (lower): the format's output error on Gaussian weights, y(Wq,x) vs y(W,x)
//   activation_rel_err (lower): the int8 mode's added error, y(Wq,x8) vs y(Wq,x); 0 for fp32
//   bits_per_weight, bytes_moved, threads, calls_per_sample, rotation_copies
// With `model`: decode_linear_us (us, lower), the per-token time of all block linears at that
// batch (sum over shapes of count x median), decode_linear_blas_us, speedup_vs_fp32_blas,
// effective_gbps and pct_of_read_bw over all of them, max_rel_err over shapes, linear_shapes,
// linears_per_token; per-shape rows in the artifact "kernel_bench_shapes.json".
// Artifact "kernel_bench.json": CPU model, ISA, BLAS, threads and every figure above.
#pragma once

#include <string>
#include <vector>

#include "common/job_output.h"
#include "common/status.h"
#include "evaluators/kernels/kernel_bench_job.h"

namespace qlab::kernels {

// A distinct block-linear weight shape of a model and how many the model has.
struct LinearShape {
  int64_t n = 0, k = 0;
  int count = 0;
};

// The model's block linears grouped by shape, in order of first appearance. Errors as for
// accuracy::ReadModelShapes (NOT_FOUND, INVALID_ARGUMENT, DATA_LOSS).
StatusOr<std::vector<LinearShape>> ModelLinearShapes(const std::string& model_path);

// REQUIRES: params.device_kind == "cpu". Errors: INVALID_ARGUMENT (params; a model whose
// shapes the kernels cannot take, naming the shape), FAILED_PRECONDITION (an isa this CPU lacks),
// RESOURCE_EXHAUSTED (operands beyond memory), CANCELLED, INTERNAL (a failed output check).
StatusOr<JobOutput> RunCpuKernelBenchJob(const KernelBenchParams& params, JobContext& ctx);

}  // namespace qlab::kernels
