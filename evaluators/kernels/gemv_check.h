// Correctness checks of the GEMV kernels against the CPU reference, shared by the kernel_check
// executable and the kernels_test suite: a standard sweep of shapes (ragged n, k a multiple of
// 128 but not of 1024, batch 1..8, forced and planned K splits), two kinds of weights (random
// packed bits, and Gaussian weights quantized by the datatype library's packers), the host
// emulator check (no GPU needed) and the GPU check (kernel output, determinism across launches,
// i.e. the split-K counters reset).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "common/status.h"
#include "evaluators/datatypes/packing.h"
#include "evaluators/kernels/gemv_format.h"
#include "evaluators/kernels/gemv_lane.h"
#include "evaluators/kernels/gemv_plan.h"
#include "evaluators/kernels/gemv_reference.h"

namespace qlab::kernels {

enum class CheckWeights {
  kRandomBits,         // every nibble/scale/selector random (gemv_synthetic.h): all codes
  kQuantizedGaussian,  // N(0, 1) weights with 1% outliers, packed by datatypes::Pack*
};

struct GemvCheckCase {
  GemvKernel kernel = GemvKernel::kRazerW4;
  GemvShape shape;
  int forced_splits = 0;  // 0: planner's choice; -1: one split per group (the maximum)
  CheckWeights weights = CheckWeights::kRandomBits;
  uint64_t seed = 1;
  std::string ToString() const;
};

// The sweep: every fused kernel and the cuBLAS baseline over small ragged shapes with all batch
// sizes and several split counts, plus (unless quick) LLM-sized shapes at batch 1 and 8.
std::vector<GemvCheckCase> StandardCheckCases(bool quick);
// A few small cases per kernel for the host emulator (it is ~1000x slower than the GPU).
std::vector<GemvCheckCase> EmulatorCheckCases();

// Weights, activations and the double-precision reference of one case, on the host.
struct HostProblem {
  GemvCheckCase c;
  datatypes::PackedRazerW4 razer;
  datatypes::PackedInt4Asym int4;
  datatypes::PackedNvfp4 nvfp4;
  std::vector<uint16_t> fp16_weights;     // [n, k], cuBLAS baseline only
  std::vector<uint16_t> x;                // [m, k]
  std::vector<double> ref;                // [m, n]
  gemv::PackedPointers pointers() const;  // host pointers into the packed struct
  float tensor_scale() const;
};
StatusOr<HostProblem> MakeHostProblem(const GemvCheckCase& c);

struct GemvCheckResult {
  GemvCheckCase c;
  Status status;       // non-OK: the case could not run (plan, CUDA error, ...)
  std::string launch;  // GemvLaunchConfig::ToString() of fused kernels
  GemvComparison cmp;
  bool deterministic = true;  // second launch bit-identical to the first (GPU only)
  bool ok() const { return status.ok() && cmp.ok() && deterministic; }
  std::string ToString() const;  // one line: PASS/FAIL, case, launch, errors
};

// The host emulator on a fused-kernel case (gemv_emulator.h). Runs anywhere.
GemvCheckResult RunEmulatorCheck(const GemvCheckCase& c);
// The CUDA kernel (or cuBLAS) on the current device, launched twice. REQUIRES: a GPU
// (CudaDeviceAvailable); defined in builds with CUDA only.
GemvCheckResult RunGpuCheck(const GemvCheckCase& c);

// The plan a case asks for, with default device limits for the emulator (forced_splits -1
// resolved to the number of groups).
StatusOr<GemvLaunchConfig> PlanForCheck(const GemvCheckCase& c, const GemvDeviceLimits& limits);

}  // namespace qlab::kernels
