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
// Decode per 32-bit word (Int4AsymTraits in gemv_lane.h): nibble pairs are ORed into the
// mantissa of 1024.0 (FP16 1024 + q, or 1024 + 16q for the high nibble of each byte, one LOP3
// per pair) and an HSUB2 / HFMA2 with the group's zero point leaves q - zero exactly; the FP16
// group scale multiplies the FP32 result of the group's 8 tensor-core MMAs.
// 4.16 bits per weight streamed.
//
// Work split: grid (ceil(n / 64), k_splits) of 128-thread blocks (4 warps); each warp owns 16
// rows and one K slice and does 8 m16n8k16 MMAs (FP32 accumulate) per 128-element group, lane
// (g, t) loading 16 bytes of rows g and g+8 per group. Shared memory: the block's x slice
// (m x 16 x 16 B per group + 16 B pad, <= 48 KB), permuted and swizzled for conflict-free B
// fragments. k_splits > 1: FP32 partials in the workspace, reduced by the last block.
// Launch constants and their reasons, memory plan in full: gemv_kernel.cuh.
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
