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
// exact in FP16); tensor_scale * 2^7 scales the FP32 result. Work split, shared-memory plan and
// launch constants: gemv_kernel.cuh. 4.5 bits per weight streamed.
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
