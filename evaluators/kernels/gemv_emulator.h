// Host emulation of the fused GEMV kernels (gemv_kernel.cuh), lane by lane and block by block,
// through the same gemv_lane.h functions the GPU runs: loads, decoders, fragment assembly,
// shared-memory staging and swizzle, split-K ranges, partial sums and the final reduction.
// The warp-wide mma.sync.m16n8k16 is emulated from the PTX ISA fragment layouts. Comparing the
// emulator with the CPU reference (gemv_reference.h) tests all of the kernels' index and decode
// logic on machines without a GPU; only the CUDA-specific glue (thread indices, barriers,
// atomics, the real MMA) needs a GPU test.
//
// Slow (every FP16 operation goes through exact host arithmetic): meant for shapes up to a few
// million weights. Thread-safe (no shared state).
#pragma once

#include <cstdint>
#include <vector>

#include "common/status.h"
#include "evaluators/kernels/gemv_lane.h"
#include "evaluators/kernels/gemv_plan.h"

namespace qlab::kernels {

// y = x * W^T as FusedGemvKernel would compute it for `config`. `weights` are host pointers in
// the layout of docs/packed-layouts.md; tensor_scale is used by NVFP4 only; x is FP16 bits
// [m, k]. Returns FP16 bits [m, n]. INVALID_ARGUMENT when config is not a fused-kernel plan or a
// required pointer is null.
StatusOr<std::vector<uint16_t>> EmulateFusedGemv(const GemvLaunchConfig& config,
                                                 const gemv::PackedPointers& weights,
                                                 float tensor_scale, const uint16_t* x);

// D = A * B + D for one warp's mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32: a[lane] are
// the lane's four A registers, b[lane] its two B registers, d[lane] its four accumulators,
// distributed as in the PTX ISA (groupID = lane / 4, threadID_in_group = lane % 4). Products
// and sums are exact in double, then rounded to float.
void EmulateMmaM16N8K16(const uint32_t (&a)[32][4], const uint32_t (&b)[32][2], float (&d)[32][4]);

// Output scale the kernels apply to the FP32 result: tensor_scale * 2^7 for NVFP4 (the E4M3
// scales are multiplied in as e4m3 * 2^7), 1 otherwise.
float FusedOutputScale(GemvKernel kernel, float tensor_scale);

}  // namespace qlab::kernels
