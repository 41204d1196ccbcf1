// RaZeR W4 (razer_fp4, v1 grids) fused-dequantization GEMV: y[m, n] = x[m, k] * W[n, k]^T.
//
// Layouts (docs/packed-layouts.md):
//   x            fp16   [m, k] row-major, m in 1..8
//   qweight      uint32 [n, k/8]: element k of row r = nibble k%8 of word k/8; OCP E2M1 code
//                (sign<<3 | eem), code 0x8 (-0) = the group's special value SV
//   scales       fp16   [n, k/128]: group scale
//   selectors    uint32 [n, ceil(G/16)]: 2 bits per group (group j at bits 2*(j%16) of word j/16);
//                0 -> SV +5, 1 -> +8, 2 -> -5, 3 -> -8
//   y            fp16   [m, n] row-major
//   W[r, k] = scale[r, k/128] * (code == 0x8 ? SV(selector) : e2m1(code)).
//
// Decode per 32-bit word (RazerTraits in gemv_lane.h): the 8 nibbles are spread by shift/mask
// into FP16 high bytes of e2m1 * 2^-14; one add+mask finds the 0x8 codes of all 8 nibbles and a
// multiply-add turns exactly those bytes into SV * 2^-14; a byte permute or mask forms each
// half2 pair and an HMUL2 by 2^14 gives exact normal FP16 grid values. The FP16 group scale
// multiplies the FP32 result of the group's 8 tensor-core MMAs. 4.14 bits per weight streamed.
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

Status LaunchRazerW4Gemv(const FusedGemvArgs& args, const GemvLaunchConfig& config,
                         cudaStream_t stream) {
  return LaunchFusedGemvKernel<RazerTraits>(args, config, stream);
}

StatusOr<int> RazerW4GemvBlocksPerSm(int smem_bytes) {
  return FusedGemvBlocksPerSm<RazerTraits>(smem_bytes);
}

}  // namespace qlab::kernels::gemv
