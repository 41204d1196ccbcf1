// NVFP4 fused-dequantization GEMV: y[m, n] = x[m, k] * W[n, k]^T.
//
// Layouts (docs/packed-layouts.md):
//   x             fp16   [m, k] row-major, m in 1..8
//   qweight       uint32 [n, k/8]: element k of row r = OCP E2M1 nibble (bits 4*(k%8) of word
//                 k/8); 0x8 is -0
//   block_scales  uint8  [n, k/16]: OCP E4M3 (bias 7, max 448, no Inf)
//   tensor_scale  float, one per matrix
//   y             fp16   [m, n] row-major
//   W[r, k] = e2m1(code) * e4m3(block_scale[r, k/16]) * tensor_scale.
//
// Decode per 32-bit word (Nvfp4Traits in gemv_lane.h): E2M1 pairs by shift/mask into FP16
// (x 2^-14). One tensor-core MMA covers k slots from four different 16-blocks, so the block
// scale cannot be applied after the MMA: each lane converts its two E4M3 bytes per row with
// cvt.rn.f16x2.e4m3x2, multiplies by 2^7 and HMUL2s them into the weights (e2m1 * e4m3 * 2^-7,
// exact in FP16); tensor_scale * 2^7 scales the FP32 result. 4.5 bits per weight streamed.
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

Status LaunchNvfp4Gemv(const FusedGemvArgs& args, const GemvLaunchConfig& config,
                       cudaStream_t stream) {
  return LaunchFusedGemvKernel<Nvfp4Traits>(args, config, stream);
}

StatusOr<int> Nvfp4GemvBlocksPerSm(int smem_bytes) {
  return FusedGemvBlocksPerSm<Nvfp4Traits>(smem_bytes);
}

}  // namespace qlab::kernels::gemv
