// kernel_bench job parameters: the checks the job makes first, callable without CUDA (the
// coordinator refuses a bad sweep at submit time), and the JSON form of a job's params
// (DESIGN.md section 10; unknown keys are rejected):
//   device       "cpu" | "cuda:N" | N (an integer N means cuda:N). Default: cuda:0
//   datatype     CUDA: razer_fp4 (= razer_w4) | int4_asym | nvfp4 | fp16_cublas;
//                CPU: int4_asym | nvfp4 | razer_fp4 | int8_asym | e2m1   (required; `kernel`
//                is an alias, either may name the CUDA kernel or the registry datatype)
//   group_size   the format's own group size (16 for nvfp4, else 128): no other is built
//   n, k         weight rows (output features) and reduction length, or
//   shape        [n, k], so that a sweep can list shapes as one axis, or
//   model        a llama2.c file, a Hugging Face folder or a config.json: every distinct
//                block-linear shape of the model is timed (CPU)
//   batch        activation rows, 1..8. Default: 1
//   repetitions  timed samples, 1..100000. Default: 100 (CUDA), 30 (CPU)
//   threads      CPU threads, 0..1024 (0 = all). Default: 0
//   activations  CPU: fp32 | int8 (per-128-block int8 with integer dot products). Default: fp32
//   isa          CPU: portable | avx2 | avx512 | avx512_vnni. Default: the best available
// On CUDA the device is the one the scheduler leased the job on.
#pragma once

#include "common/status.h"
#include "evaluators/kernels/kernel_bench_job.h"

#ifdef QLAB_KERNELS_HAVE_JSON
#include <nlohmann/json.hpp>
#endif

namespace qlab::kernels {

// OK, or INVALID_ARGUMENT naming the field: an unknown kernel for the device kind, a group size
// other than the format's, a bad shape (naming m/n/k), batch outside 1..8, repetitions outside
// 1..100000, a negative device index, CPU-only params on CUDA. In qlab_kernels_cpu.
Status ValidateKernelBenchParams(const KernelBenchParams& params);

#ifdef QLAB_KERNELS_HAVE_JSON
// Reads and validates the JSON form above. INVALID_ARGUMENT naming the field. In target
// qlab_kernel_bench_params (needs nlohmann_json; no CUDA).
StatusOr<KernelBenchParams> KernelBenchParamsFromJson(const nlohmann::json& params);
#endif

}  // namespace qlab::kernels
