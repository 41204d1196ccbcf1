// Launch configuration of the fused-dequantization GEMV kernels: how many row blocks and K
// splits, how much shared memory and split-K workspace. A pure function of the shape and a few
// device limits, so it is unit-tested without a GPU; the CUDA side (gemv_cuda.h) fills the
// limits from the runtime. The kernel design it serves is described in gemv_kernel.cuh.
#pragma once

#include <cstdint>
#include <string>

#include "common/status.h"
#include "evaluators/kernels/gemv_format.h"

namespace qlab::kernels {

// What the planner needs to know about the GPU and the compiled kernel.
struct GemvDeviceLimits {
  int num_sms = 132;      // streaming multiprocessors (H100 SXM: 132)
  int blocks_per_sm = 8;  // occupancy limit from threads and registers alone
  int64_t smem_per_sm_bytes = 228 * 1024;
  int64_t smem_per_block_max_bytes = 227 * 1024;  // opt-in maximum for one block
};

// One launch: grid (row_blocks, k_splits) of 128-thread blocks.
struct GemvLaunchConfig {
  GemvKernel kernel = GemvKernel::kRazerW4;
  GemvShape shape;
  int threads_per_block = 0;    // 128: 4 warps
  int rows_per_block = 0;       // 64: 16 rows per warp (the MMA's m)
  int64_t row_blocks = 0;       // grid.x = ceil(n / 64)
  int k_splits = 0;             // grid.y: K slices reduced through the workspace when > 1
  int groups = 0;               // k / 128
  int slice_groups_max = 0;     // groups in the largest K slice
  int smem_bytes = 0;           // dynamic shared memory per block (staged activations)
  int blocks_per_sm = 0;        // resident blocks per SM the plan assumed
  int64_t workspace_bytes = 0;  // 0 when k_splits == 1
  int64_t partials_offset = 0;  // byte offset of the FP32 partials inside the workspace
  // e.g. "grid 128x5 block 128 smem 8208B splits 5 (13 groups/slice)".
  std::string ToString() const;
};

// Shared memory a block of this plan may use without hurting occupancy: four 48 KB blocks fit in
// an SM's 228 KB, and 48 KB needs no opt-in.
inline constexpr int kGemvSmemBudgetBytes = 48 * 1024;

// Plans a fused kernel launch. forced_splits > 0 fixes k_splits (tests use it to cover the
// split and non-split paths); 0 lets the planner choose: enough blocks for at least four resident
// per SM, K slices small enough for the shared-memory budget, and among those the split count
// with the least estimated critical path (blocks per SM times groups per slice).
// INVALID_ARGUMENT for a bad shape (ValidateGemvShape), the cuBLAS kernel, forced_splits above
// the number of groups, or a slice whose staged activations exceed smem_per_block_max_bytes.
StatusOr<GemvLaunchConfig> PlanFusedGemv(GemvKernel kernel, const GemvShape& shape,
                                         const GemvDeviceLimits& limits, int forced_splits = 0);

}  // namespace qlab::kernels
