// Launch planning for the fused GEMV kernels (see gemv_plan.h).
#include "evaluators/kernels/gemv_plan.h"

#include <algorithm>
#include <limits>

#include "common/int_math.h"
#include "evaluators/kernels/gemv_lane.h"

namespace qlab::kernels {
namespace {

int64_t SmemBytes(int m, int slice_groups) {
  return int64_t{m} * gemv::SmemRowChunks(slice_groups) * 16;
}

}  // namespace

std::string GemvLaunchConfig::ToString() const {
  return "grid " + std::to_string(row_blocks) + "x" + std::to_string(k_splits) + " block " +
         std::to_string(threads_per_block) + " smem " + std::to_string(smem_bytes) + "B splits " +
         std::to_string(k_splits) + " (" + std::to_string(slice_groups_max) + " groups/slice)";
}

StatusOr<GemvLaunchConfig> PlanFusedGemv(GemvKernel kernel, const GemvShape& shape,
                                         const GemvDeviceLimits& limits, int forced_splits) {
  RETURN_IF_ERROR(ValidateGemvShape(kernel, shape));
  if (!IsPackedKernel(kernel)) {
    return Status::InvalidArgument("PlanFusedGemv: fp16_cublas is not a fused kernel");
  }
  GemvLaunchConfig c;
  c.kernel = kernel;
  c.shape = shape;
  c.threads_per_block = gemv::kThreadsPerBlock;
  c.rows_per_block = gemv::kRowsPerBlock;
  c.row_blocks = CeilDiv(shape.n, gemv::kRowsPerBlock);
  c.groups = static_cast<int>(shape.k / gemv::kGroupK);
  const int num_sms = std::max(1, limits.num_sms);

  // Largest slice whose staged activations fit the budget: m * (16 * groups + 1) * 16 bytes.
  const int64_t cap_groups =
      std::max<int64_t>(1, (kGemvSmemBudgetBytes / (16 * int64_t{shape.m}) - 1) / 16);
  const int min_splits = static_cast<int>(CeilDiv(c.groups, cap_groups));

  int splits = 0;
  if (forced_splits > 0) {
    if (forced_splits > c.groups) {
      return Status::InvalidArgument(
          "PlanFusedGemv: forced k_splits=" + std::to_string(forced_splits) + " exceeds the " +
          std::to_string(c.groups) + " groups of k=" + std::to_string(shape.k));
    }
    splits = forced_splits;
  } else {
    // Enough blocks for four resident per SM (16 warps: each keeps ~2 KB of weights in flight,
    // which covers the DRAM latency-bandwidth product per SM), unless K is too short.
    const int want_per_sm = std::clamp(limits.blocks_per_sm, 1, 4);
    const int64_t want_blocks = int64_t{num_sms} * want_per_sm;
    const int max_splits = std::max(1, c.groups >= 4 ? c.groups / 2 : c.groups);
    int low = static_cast<int>(std::max<int64_t>(min_splits, CeilDiv(want_blocks, c.row_blocks)));
    low = std::clamp(low, 1, std::max(max_splits, min_splits));
    const int high = std::max(low, std::min(max_splits, 2 * low));
    // Critical path ~ blocks per SM (in waves) x groups of the longest slice; each split adds a
    // partial-sum round trip, hence the small per-split term. Ties go to fewer splits.
    double best_cost = std::numeric_limits<double>::max();
    for (int s = low; s <= high; ++s) {
      const double per_sm = static_cast<double>(CeilDiv(c.row_blocks * s, num_sms));
      const double cost = per_sm * static_cast<double>(CeilDiv(c.groups, s)) + 0.5 * s;
      if (cost < best_cost) {
        best_cost = cost;
        splits = s;
      }
    }
  }
  c.k_splits = splits;
  c.slice_groups_max = gemv::MaxSliceGroups(c.groups, splits);
  const int64_t smem = SmemBytes(shape.m, c.slice_groups_max);
  if (smem > limits.smem_per_block_max_bytes) {
    return Status::InvalidArgument(
        "PlanFusedGemv: k_splits=" + std::to_string(splits) + " leaves " +
        std::to_string(c.slice_groups_max) + " groups per slice for m=" + std::to_string(shape.m) +
        " n=" + std::to_string(shape.n) + " k=" + std::to_string(shape.k) + ", needing " +
        std::to_string(smem) + " bytes of shared memory (max " +
        std::to_string(limits.smem_per_block_max_bytes) + ")");
  }
  c.smem_bytes = static_cast<int>(smem);
  c.blocks_per_sm = static_cast<int>(std::max<int64_t>(
      1, std::min<int64_t>(limits.blocks_per_sm,
                           limits.smem_per_sm_bytes / std::max<int64_t>(1, smem))));
  if (splits > 1) {
    c.partials_offset = CeilDiv(c.row_blocks * 4, 256) * 256;  // counters first, 256-aligned
    c.workspace_bytes = c.partials_offset + c.row_blocks * splits * gemv::kMmaN *
                                                gemv::kRowsPerBlock * int64_t{sizeof(float)};
  }
  return c;
}

}  // namespace qlab::kernels
