// Fused-dequantization GEMV on tensor cores for 4-bit weights (RaZeR W4, INT4 asym, NVFP4).
// Included by one .cu per format, which instantiates FusedGemvKernel<Traits> and its launcher.
//
// Problem and layouts
//   y[m, n] = x[m, k] * W[n, k]^T, 1 <= m <= 8, k % 128 == 0.
//   x: fp16 [m, k] row-major. y: fp16 [m, n] row-major. FP32 accumulation.
//   W: packed as in docs/packed-layouts.md: qweight uint32 [n, k/8] (element k of a row is the
//   nibble at bits 4*(k%8) of word k/8) plus fp16 scales [n, k/128] with 2-bit selectors or
//   4-bit zeros, or E4M3 block scales [n, k/16] with an FP32 tensor scale.
//
// Why tensor cores for a GEMV
//   The kernel is bound by DRAM bandwidth: at ~2.6 TB/s an H100 SM must retire ~20 weights per
//   clock. Dequantizing costs a few integer/FP16 ops per weight, and 8 batch rows of FP32 FMAs
//   (8 per weight) would saturate the FMA pipe at batch 8. So the products go through
//   mma.sync.m16n8k16 (FP16 in, FP32 accumulate) with W as the A operand (16 weight rows) and
//   x^T as B: the batch is the MMA's n = 8 and costs nothing extra up to 8.
//
// Work split
//   grid = (ceil(n / 64), k_splits), block = 128 threads = 4 warps. Warp w of block (bx, by)
//   owns rows bx*64 + 16w .. +15 and K slice `by` (SplitGroups: contiguous 128-groups).
//   The warp walks its slice one group (128 k) at a time. Lane (g, t) loads one 16-byte word
//   quad of row g and one of row g+8 at k offsets [32t, 32t+32): the four lanes of a row read
//   64 contiguous bytes, the warp 1 KB per step, all 128-bit loads (L1 bypassed, 256 B L2
//   prefetch). Each of the lane's 4 words feeds 2 MMAs: 8 MMAs per step (16 rows x 128 k).
//   Register pipeline: steps s+2 and s+3 are in flight while s and s+1 are computed, i.e. 2-3 KB
//   of weights per warp with >= 16 warps per SM.
//   k_splits > 1: blocks write FP32 partials to the workspace; the last block to arrive at a row
//   block (atomic counter) sums the slices in slice order (deterministic), writes y and resets
//   the counter to zero for the next launch. A launch that fails or is abandoned can leave
//   counters non-zero, and the partials of a plan with fewer row blocks can cover the counters
//   of one with more: the host tracks what it knows to be zero (SplitKCounterLedger) and
//   LaunchFusedGemv zeroes the counters on the stream before a launch that needs it and right
//   after a launch that failed. k_splits == 1 writes y directly.
//
// Shared-memory plan
//   The block stages its x slice once: m rows x (16 chunks per group x slice groups + 1 pad
//   chunk) x 16 bytes, at most 48 KB (the planner splits K further otherwise). Each 16-byte
//   chunk of 8 halves is stored permuted as (x0,x4)(x1,x5)(x2,x6)(x3,x7), the order in which the
//   decoder emits weight pairs, so one 16-byte shared load gives the B fragments of two MMAs.
//   A swizzle (SmemChunkSwizzle) and the pad chunk make those loads bank-conflict free. Lanes
//   with g >= m read batch row m-1: those MMA columns are computed and discarded.
//   The first two weight steps are issued before the staging barrier, hiding its latency.
//
// Decode (per 32-bit word of 8 nibbles; gemv_lane.h, exact in every case)
//   E2M1: shift/mask the even and the odd nibbles into per-byte FP16 high bytes of
//     e2m1 * 2^-14 (magnitude to FP16 bits 9..11, sign to bit 15: the subnormal trick), then one
//     byte permute or mask per half2 pair.
//   RaZeR: one add+mask flags the 0x8 codes of the word, a multiply-add per half-word turns
//     exactly those bytes into SV * 2^-14, and an HMUL2 by 2^14 yields the grid values as normal
//     FP16 (the tensor cores' handling of FP16 subnormals is unspecified). The FP16 group scale
//     multiplies the FP32 result of the group's 8 MMAs.
//   INT4: nibbles ORed into the mantissa of 1024.0 (or 1024 + 16q for the high nibble of a
//     byte); an HSUB2 / HFMA2 with the zero point leaves q - zero; scale as for RaZeR.
//   NVFP4: an MMA spans four 16-blocks, so the E4M3 scale (cvt.e4m3x2 to half2, times 2^7) is
//     multiplied into the weights in FP16 before the MMA (<= 6 significant bits, >= 2^-17:
//     exact); tensor scale and 2^7 scale the FP32 result.
//
// Launch constants
//   kThreadsPerBlock = 128 (4 warps): small blocks give the planner the granularity to put >= 4
//     blocks on each of 132 SMs even for n = 4096 (64 row blocks x k_splits).
//   kMinBlocksPerSm = 6 (__launch_bounds__ minimum): registers for 24 resident warps per SM
//     (<= 80 per thread; without the bound INT4 took 89, i.e. 5 blocks). 16 warps (4 blocks,
//     kGemvSaturatingBlocksPerSm) keep enough weight bytes in flight to stream at full DRAM
//     bandwidth; the rest hides staging and split-K reduction. The planner sizes grids in waves
//     of the occupancy the runtime reports for the launched kernel at the plan's shared memory
//     (gemv_plan.h): 6 per SM up to ~37 KB of staged activations, 4 at the 48 KB budget.
//   kRowsPerWarp = 16: the MMA's m. kGroupK = 128: one scale group (eight NVFP4 blocks) per
//     step, 16 bytes per lane per row.
#pragma once

#include <cuda_runtime.h>

#include <string>

#include "common/status.h"
#include "evaluators/kernels/gemv_lane.h"
#include "evaluators/kernels/gemv_plan.h"

namespace qlab::kernels::gemv {

// D = A * B + D for one m16n8k16 tile: A fp16 16x16 (4 regs/lane), B fp16 16x8 (2 regs/lane),
// D fp32 16x8 (4 regs/lane), fragment layouts of the PTX ISA.
__device__ __forceinline__ void MmaM16N8K16(const uint32_t a[4], const uint32_t b[2], float d[4]) {
  asm volatile(
      "mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32 {%0, %1, %2, %3}, {%4, %5, %6, %7}, "
      "{%8, %9}, {%0, %1, %2, %3};\n"
      : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3])
      : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b[0]), "r"(b[1]));
}

// The 8 MMAs of one group step, accumulated into d.
template <class Traits>
__device__ __forceinline__ void GroupStepMmas(const GroupStep<Traits>& s, int group_in_slice,
                                              const U32x4* x_row, int t, float d[4]) {
#pragma unroll
  for (int word = 0; word < 4; ++word) {
    const U32x4 x_chunk = x_row[BChunkIndex(group_in_slice, t, word)];
    const WordFragments f = MakeWordFragments<Traits>(Word(s.lo, word), Word(s.hi, word), s.meta_lo,
                                                      s.meta_hi, word, x_chunk);
    MmaM16N8K16(f.a[0], f.b[0], d);
    MmaM16N8K16(f.a[1], f.b[1], d);
  }
}

// One group step into acc: formats with a per-group scale accumulate the step in a fresh
// fragment and scale it in FP32; NVFP4 (scales already in the weights) accumulates directly.
template <class Traits>
__device__ __forceinline__ void ComputeGroupStep(const GroupStep<Traits>& s, int group_in_slice,
                                                 const U32x4* x_row, int t, float acc[4]) {
  if constexpr (Traits::kScaleAfterMma) {
    float c[4] = {0.f, 0.f, 0.f, 0.f};
    GroupStepMmas<Traits>(s, group_in_slice, x_row, t, c);
    ApplyGroupScale(c, s.meta_lo.scale, s.meta_hi.scale, acc);
  } else {
    GroupStepMmas<Traits>(s, group_in_slice, x_row, t, acc);
  }
}

// __launch_bounds__: 128 threads, and registers capped so that kMinBlocksPerSm = 6 blocks fit
// an SM (<= 80 per thread, no spills), the planner's default occupancy (gemv_plan.h).
template <class Traits>
__global__ void __launch_bounds__(kThreadsPerBlock, kMinBlocksPerSm)
    FusedGemvKernel(const FusedGemvArgs args) {  // all pointers device memory, see FusedGemvArgs
  extern __shared__ __align__(16) unsigned char smem_raw[];
  U32x4* smem_x = reinterpret_cast<U32x4*>(smem_raw);  // [m][SmemRowChunks(slice_groups_max)]
  __shared__ bool is_last_block;

  const int lane = static_cast<int>(threadIdx.x) & 31;
  const int warp = static_cast<int>(threadIdx.x) >> 5;
  const int g = lane >> 2, t = lane & 3;
  const int64_t row_block = blockIdx.x;
  const int split = static_cast<int>(blockIdx.y);
  const GroupRange range = SplitGroups(args.groups, args.k_splits, split);

  // Rows past n (last row block) load row n-1 and are never stored: no divergent loads.
  const int64_t row0 = row_block * kRowsPerBlock + warp * kRowsPerWarp + g;
  const LaneRows<Traits> rows =
      MakeLaneRows<Traits>(args, min(row0, args.n - 1), min(row0 + 8, args.n - 1), t);

  // Issue the first two steps before staging x, so their DRAM latency overlaps the staging.
  GroupStep<Traits> s0{}, s1{};
  if (range.begin < range.end) {
    s0 = LoadGroupStep<Traits>(rows, range.begin);
  }
  if (range.begin + 1 < range.end) {
    s1 = LoadGroupStep<Traits>(rows, range.begin + 1);
  }

  const int row_chunks = SmemRowChunks(args.slice_groups_max);
  const int chunks = (range.end - range.begin) * kChunksPerGroup;
  const uint16_t* x_slice = args.x + int64_t{range.begin} * kGroupK;
  for (int idx = static_cast<int>(threadIdx.x); idx < args.m * chunks; idx += kThreadsPerBlock) {
    const int b = idx / chunks, c = idx - b * chunks;
    smem_x[b * row_chunks + SmemChunkSwizzle(c)] =
        PermuteChunk(LoadActivations16(x_slice + int64_t{b} * args.k + 8 * c));
  }
  __syncthreads();

  const U32x4* x_row = smem_x + min(g, args.m - 1) * row_chunks;
  float acc[4] = {0.f, 0.f, 0.f, 0.f};
  for (int group = range.begin; group < range.end; group += 2) {
    GroupStep<Traits> n0{}, n1{};
    if (group + 2 < range.end) {
      n0 = LoadGroupStep<Traits>(rows, group + 2);
    }
    ComputeGroupStep<Traits>(s0, group - range.begin, x_row, t, acc);
    if (group + 3 < range.end) {
      n1 = LoadGroupStep<Traits>(rows, group + 3);
    }
    if (group + 1 < range.end) {
      ComputeGroupStep<Traits>(s1, group + 1 - range.begin, x_row, t, acc);
    }
    s0 = n0;
    s1 = n1;
  }

  if (args.k_splits == 1) {
#pragma unroll
    for (int j = 0; j < 4; ++j) {
      const int64_t row = row0 + (j >> 1) * 8;
      const int col = AccCol(t, j);
      if (row < args.n && col < args.m) {
        args.y[col * args.n + row] = FloatToHalfBits(acc[j] * args.out_scale);
      }
    }
    return;
  }

  // Split-K: publish this slice's partials, then let the last block of the row block reduce.
#pragma unroll
  for (int j = 0; j < 4; ++j) {
    const int col = AccCol(t, j);
    if (col < args.m) {
      args.partials[PartialIndex(row_block, split, args.k_splits, col, AccLocalRow(warp, g, j))] =
          acc[j];
    }
  }
  __threadfence();  // partials visible device-wide before this block is counted
  __syncthreads();
  if (threadIdx.x == 0) {
    const unsigned arrived = atomicAdd(&args.counters[row_block], 1u);
    is_last_block = arrived == static_cast<unsigned>(args.k_splits - 1);
  }
  __syncthreads();
  if (!is_last_block) return;
  __threadfence();  // order the partial reads after the counter observation
  for (int idx = static_cast<int>(threadIdx.x); idx < args.m * kRowsPerBlock;
       idx += kThreadsPerBlock) {
    const int col = idx / kRowsPerBlock, local_row = idx - col * kRowsPerBlock;
    const int64_t row = row_block * kRowsPerBlock + local_row;
    if (row >= args.n) continue;
    float sum = 0.f;
    for (int s = 0; s < args.k_splits; ++s) {
      sum += LoadPartial(args.partials + PartialIndex(row_block, s, args.k_splits, col, local_row));
    }
    args.y[col * args.n + row] = FloatToHalfBits(sum * args.out_scale);
  }
  if (threadIdx.x == 0) args.counters[row_block] = 0;
}

// Resident blocks per SM of FusedGemvKernel<Traits> with `smem_bytes` of dynamic shared memory
// (threads and registers considered), or an error from the runtime.
template <class Traits>
StatusOr<int> FusedGemvBlocksPerSm(int smem_bytes) {
  int blocks = 0;
  if (smem_bytes > 48 * 1024) {
    const cudaError_t e = cudaFuncSetAttribute(
        FusedGemvKernel<Traits>, cudaFuncAttributeMaxDynamicSharedMemorySize, smem_bytes);
    if (e != cudaSuccess) {
      return Status::Internal(std::string("cudaFuncSetAttribute: ") + cudaGetErrorString(e));
    }
  }
  const cudaError_t e = cudaOccupancyMaxActiveBlocksPerMultiprocessor(
      &blocks, FusedGemvKernel<Traits>, kThreadsPerBlock, smem_bytes);
  if (e != cudaSuccess) {
    return Status::Internal(std::string("cudaOccupancyMaxActiveBlocksPerMultiprocessor: ") +
                            cudaGetErrorString(e));
  }
  return blocks;
}

// Launches FusedGemvKernel<Traits> on `stream`. REQUIRES: args consistent with config (checked
// by the caller, LaunchFusedGemv). Returns INTERNAL with the CUDA error if the launch fails.
template <class Traits>
Status LaunchFusedGemvKernel(const FusedGemvArgs& args, const GemvLaunchConfig& config,
                             cudaStream_t stream) {
  if (config.smem_bytes > 48 * 1024) {
    const cudaError_t e = cudaFuncSetAttribute(
        FusedGemvKernel<Traits>, cudaFuncAttributeMaxDynamicSharedMemorySize, config.smem_bytes);
    if (e != cudaSuccess) {
      return Status::Internal(std::string("cudaFuncSetAttribute: ") + cudaGetErrorString(e));
    }
  }
  const dim3 grid(static_cast<unsigned>(config.row_blocks), static_cast<unsigned>(config.k_splits));
  FusedGemvKernel<Traits><<<grid, kThreadsPerBlock, config.smem_bytes, stream>>>(args);
  const cudaError_t e = cudaGetLastError();
  if (e != cudaSuccess) {
    return Status::Internal(std::string("fused GEMV launch (") + config.ToString() +
                            ", m=" + std::to_string(args.m) + " n=" + std::to_string(args.n) +
                            " k=" + std::to_string(args.k) + "): " + cudaGetErrorString(e));
  }
  return Status::Ok();
}

}  // namespace qlab::kernels::gemv
