// kernel_bench job parameters: the checks RunKernelBenchJob makes first, callable without CUDA
// (the coordinator refuses a bad sweep at submit time), and the JSON form of a job's params.
//
// JSON params (unknown keys are rejected):
//   kernel       "razer_w4" | "int4_asym" | "nvfp4" | "fp16_cublas"   (required)
//   n, k         weight rows (output features) and reduction length     (required), or
//   shape        [n, k], so that a sweep can list shapes as one axis
//   batch        activation rows, 1..8. Default: 1
//   repetitions  timed samples (each >= 200 us of back-to-back launches), 1..100000. Default: 100
// The device is the one the scheduler leased the job on.
#pragma once

#include "common/status.h"
#include "evaluators/kernels/kernel_bench_job.h"

#ifdef QLAB_KERNELS_HAVE_JSON
#include <nlohmann/json.hpp>
#endif

namespace qlab::kernels {

// OK, or INVALID_ARGUMENT for an unknown kernel, a bad shape (naming m/n/k), batch outside
// 1..8, repetitions outside 1..100000 or a negative device index. In qlab_kernels_cpu.
Status ValidateKernelBenchParams(const KernelBenchParams& params);

#ifdef QLAB_KERNELS_HAVE_JSON
// Reads and validates the JSON form above. INVALID_ARGUMENT naming the field. In target
// qlab_kernel_bench_params (needs nlohmann_json; no CUDA).
StatusOr<KernelBenchParams> KernelBenchParamsFromJson(const nlohmann::json& params);
#endif

}  // namespace qlab::kernels
