// INT4 asymmetric (AWQ convention, g128) fused-dequantization GEMV: y[m, n] = x[m, k] * W[n, k]^T.
//
// Layouts (docs/packed-layouts.md):
//   x        fp16   [m, k] row-major, m in 1..8
//   qweight  uint32 [n, k/8]: element k of row r = unsigned nibble q (bits 4*(k%8) of word k/8)
//   scales   fp16   [n, k/128]: group scale
//   zeros    uint32 [n, ceil(G/8)]: 4-bit zero point per group (group j at bits 4*(j%8) of word
//            j/8)
//   y        fp16   [m, n] row-major
//   W[r, k] = (q - zero[r, k/128]) * scale[r, k/128].
//
// Decode per 32-bit word (Int4AsymTraits in gemv_lane.h): each nibble pair is ORed into the
// mantissa of 1024.0 (FP16 1024 + q, one LOP3) and an HSUB2 of (1024 + zero) leaves q - zero
// exactly; the FP16 group scale multiplies the FP32 result of the group's 8 tensor-core MMAs.
// Work split, shared-memory plan and launch constants: gemv_kernel.cuh. 4.16 bits per weight.
#include "evaluators/kernels/gemv_cuda.h"
#include "evaluators/kernels/gemv_kernel.cuh"

namespace qlab::kernels::gemv {

Status LaunchInt4AsymGemv(const FusedGemvArgs& args, const GemvLaunchConfig& config,
                          cudaStream_t stream) {
  return LaunchFusedGemvKernel<Int4AsymTraits>(args, config, stream);
}

StatusOr<int> Int4AsymGemvBlocksPerSm(int smem_bytes) {
  return FusedGemvBlocksPerSm<Int4AsymTraits>(smem_bytes);
}

}  // namespace qlab::kernels::gemv
