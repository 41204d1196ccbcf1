// Launch configuration of the fused-dequantization GEMV kernels: how many row blocks and K
// splits, how much shared memory and split-K workspace, and how the grid falls into waves. A
// pure function of the shape and a few device limits, so it is unit-tested without a GPU; the
// CUDA side (gemv_cuda.h) fills the limits, including the occupancy of the compiled kernel, from
// the runtime. The kernel design it serves is described in gemv_kernel.cuh.
#pragma once

#include <cstdint>
#include <functional>
#include <string>

#include "common/status.h"
#include "evaluators/kernels/gemv_format.h"

namespace qlab::kernels {

// What the planner needs to know about the GPU and the compiled kernel.
struct GemvDeviceLimits {
  int num_sms = 132;  // streaming multiprocessors. Default: 132 (H100 SXM)
  // Resident blocks per SM from threads and registers alone (no dynamic shared memory), i.e. the
  // occupancy of the compiled kernel. Default: gemv::kMinBlocksPerSm (6), what the kernel's
  // __launch_bounds__ guarantee on sm_90 (128 threads, <= 80 registers).
  int blocks_per_sm = 6;
  int64_t smem_per_sm_bytes = 228 * 1024;
  int64_t smem_per_block_max_bytes = 227 * 1024;  // opt-in maximum for one block
  int64_t smem_reserved_per_block_bytes = 1024;   // the runtime's own share per block (sm_80+)
  // Resident blocks per SM of the kernel that will actually be launched, with its block size
  // (kThreadsPerBlock) and `smem_bytes` of dynamic shared memory. QueryGemvDeviceLimits sets it
  // to cudaOccupancyMaxActiveBlocksPerMultiprocessor of that kernel. When empty (tests, the
  // emulator) the planner uses GemvBlocksPerSmModel. An error is returned by PlanFusedGemv.
  std::function<StatusOr<int>(int smem_bytes)> blocks_per_sm_for_smem;
};

// The host model of the occupancy: blocks_per_sm, further limited by how many blocks of
// smem_bytes dynamic (plus 16 static, 128-byte granular, plus the reserved share) fit in
// smem_per_sm_bytes; at least 1.
int GemvBlocksPerSmModel(const GemvDeviceLimits& limits, int64_t smem_bytes);

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
  int num_sms = 0;              // SMs of the device planned for
  int blocks_per_sm = 0;        // resident blocks per SM at smem_bytes (the plan's occupancy)
  double waves = 0;             // blocks / (num_sms * blocks_per_sm)
  int64_t workspace_bytes = 0;  // 0 when k_splits == 1
  int64_t counters_bytes = 0;   // arrival counters at the start of the workspace (k_splits > 1)
  int64_t partials_offset = 0;  // byte offset of the FP32 partials inside the workspace
  int64_t blocks() const { return row_blocks * k_splits; }
  // e.g. "grid 128x5 block 128 smem 8208B splits 5 (13 groups/slice) waves 0.81 (6/SM)".
  std::string ToString() const;
};

// Resident blocks per SM from which the planner counts an SM's share of DRAM bandwidth as
// saturated: 16 warps, each with 2-3 KB of weights in flight, cover an SM's share of the DRAM
// latency-bandwidth product (gemv_kernel.cuh). An estimate, to be checked with kernel_bench.
inline constexpr int kGemvSaturatingBlocksPerSm = 4;

// Shared memory a block of this plan may use: kGemvSaturatingBlocksPerSm blocks of 48 KB (plus
// the reserved 1 KB each) fit in an SM's 228 KB, and 48 KB needs no opt-in.
inline constexpr int kGemvSmemBudgetBytes = 48 * 1024;

// Plans a fused kernel launch. forced_splits > 0 fixes k_splits (tests use it to cover the
// split and non-split paths); 0 lets the planner choose among the split counts whose slices fit
// the shared-memory budget, from 1 up to one split per two groups:
//
//   Wave rule. A wave is num_sms * blocks_per_sm(smem of the plan) blocks, the blocks that are
//   resident at once. The planner takes a grid of at most one wave, or whose last wave is whole
//   or at least half full (blocks % wave == 0 or >= wave / 2): a small last wave would stream
//   its slices with a fraction of the DRAM concurrency, as long as a full wave. Only when no
//   split count satisfies the rule (e.g. k of one group) does it take the fastest estimate
//   anyway; `waves` reports what it chose.
//
//   Among those it minimizes an estimated time, in group steps of one block at full speed:
//   each wave of c blocks takes max(slice_groups_max, c * mean slice / saturated) where
//   saturated = num_sms * min(blocks_per_sm, kGemvSaturatingBlocksPerSm) blocks stream at the
//   DRAM bandwidth; plus a prologue of 0.5 step and, when split, 0.04 step per batch row (partials
//   written and reduced) per block, at that same saturated concurrency. Ties go to fewer splits.
//   The constants are estimates from the design (gemv_kernel.cuh), not measurements.
//
// INVALID_ARGUMENT for a bad shape (ValidateGemvShape), the cuBLAS kernel, forced_splits above
// the number of groups, or a slice whose staged activations exceed smem_per_block_max_bytes;
// the error of blocks_per_sm_for_smem when it fails.
StatusOr<GemvLaunchConfig> PlanFusedGemv(GemvKernel kernel, const GemvShape& shape,
                                         const GemvDeviceLimits& limits, int forced_splits = 0);

// What the host knows about the split-K arrival counters of one workspace: the length of the
// workspace prefix known to hold zeros. The kernel's last block of each row block returns its
// counter to zero, so after a launch that ran to completion the counters are zero again, while
// the partials it wrote may cover counters of a plan with more row blocks; after a launch that
// failed or was abandoned nothing is known. Pure bookkeeping, unit-tested without a GPU;
// GemvWorkspace (gemv_cuda.h) owns one and zeroes the counters (on the launch's stream) when
// CountersToZero says so. Not thread-safe.
class SplitKCounterLedger {
 public:
  // Bytes at the start of the workspace to zero before launching `config`: 0 when its counters
  // are known to be zero (or it does not split K), else config.counters_bytes.
  int64_t CountersToZero(const GemvLaunchConfig& config) const;
  // The first `bytes` of the workspace were zeroed, ordered before the next launch.
  void Zeroed(int64_t bytes);
  // `config` was launched (enqueued without error): its counters end at zero, and everything
  // from its partials on holds partial sums.
  void Launched(const GemvLaunchConfig& config);
  // A launch failed or was abandoned: some counters may be non-zero.
  void Aborted() { zero_prefix_bytes_ = 0; }
  int64_t zero_prefix_bytes() const { return zero_prefix_bytes_; }

 private:
  int64_t zero_prefix_bytes_ = 0;
};

}  // namespace qlab::kernels
