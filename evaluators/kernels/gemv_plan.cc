// Launch planning for the fused GEMV kernels (see gemv_plan.h).
#include "evaluators/kernels/gemv_plan.h"

#include <algorithm>
#include <cstdio>
#include <limits>
#include <map>

#include "common/int_math.h"
#include "evaluators/kernels/gemv_lane.h"

namespace qlab::kernels {
namespace {

// The kernel's own static shared memory (the is_last_block flag), as ptxas reports it.
constexpr int64_t kStaticSmemBytes = 16;
// Shared memory is allocated to blocks in 128-byte units.
constexpr int64_t kSmemGranuleBytes = 128;
// Cost model of gemv_plan.h, in group steps of one block streaming at full speed.
constexpr double kBlockPrologueSteps = 0.5;      // launch, x staging, pipeline fill
constexpr double kSplitStepsPerBatchRow = 0.04;  // 64 x 4-byte partials written, read, reduced

// kGemvSaturatingBlocksPerSm blocks at the shared-memory budget fit in an H100 SM (228 KB), and
// the register bound of the kernels allows at least as many.
static_assert(kGemvSaturatingBlocksPerSm * (kGemvSmemBudgetBytes + kStaticSmemBytes + 1024) <=
              228 * 1024);
static_assert(kGemvSaturatingBlocksPerSm <= gemv::kMinBlocksPerSm);

int64_t SmemBytes(int m, int slice_groups) {
  return int64_t{m} * gemv::SmemRowChunks(slice_groups) * 16;
}

struct GridEstimate {
  double time = 0;       // estimated time (gemv_plan.h)
  bool wave_ok = false;  // the wave rule holds
  double waves = 0;
};

GridEstimate EstimateGrid(int64_t row_blocks, int groups, int splits, int m, int num_sms,
                          int blocks_per_sm) {
  GridEstimate e;
  const int64_t blocks = row_blocks * splits;
  const int64_t wave = int64_t{num_sms} * blocks_per_sm;
  const double saturated =
      static_cast<double>(num_sms) * std::min(blocks_per_sm, kGemvSaturatingBlocksPerSm);
  const double slice_max = gemv::MaxSliceGroups(groups, splits);
  const double slice_mean = static_cast<double>(groups) / splits;
  auto wave_time = [&](int64_t c) {
    const double cd = static_cast<double>(c);
    return cd <= saturated ? slice_max : std::max(slice_max, cd * slice_mean / saturated);
  };
  const int64_t full = blocks / wave, tail = blocks % wave;
  e.time = static_cast<double>(full) * wave_time(wave) + (tail > 0 ? wave_time(tail) : 0.0);
  double per_block = kBlockPrologueSteps;
  if (splits > 1) per_block += kSplitStepsPerBatchRow * m;
  e.time += static_cast<double>(blocks) * per_block / saturated;
  e.wave_ok = blocks <= wave || tail == 0 || 2 * tail >= wave;
  e.waves = static_cast<double>(blocks) / static_cast<double>(wave);
  return e;
}

}  // namespace

int GemvBlocksPerSmModel(const GemvDeviceLimits& limits, int64_t smem_bytes) {
  const int64_t per_block =
      CeilDiv(std::max<int64_t>(0, smem_bytes) + kStaticSmemBytes, kSmemGranuleBytes) *
          kSmemGranuleBytes +
      std::max<int64_t>(0, limits.smem_reserved_per_block_bytes);
  const int64_t by_smem = limits.smem_per_sm_bytes / per_block;
  return static_cast<int>(
      std::max<int64_t>(1, std::min<int64_t>(std::max(1, limits.blocks_per_sm), by_smem)));
}

std::string GemvLaunchConfig::ToString() const {
  char waves_text[64];
  std::snprintf(waves_text, sizeof(waves_text), " waves %.2f (%d/SM)", waves, blocks_per_sm);
  return "grid " + std::to_string(row_blocks) + "x" + std::to_string(k_splits) + " block " +
         std::to_string(threads_per_block) + " smem " + std::to_string(smem_bytes) + "B splits " +
         std::to_string(k_splits) + " (" + std::to_string(slice_groups_max) + " groups/slice)" +
         waves_text;
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
  c.num_sms = std::max(1, limits.num_sms);

  // Occupancy at a slice length, asked once per distinct length.
  std::map<int, int> occupancy;
  auto blocks_per_sm = [&](int slice_groups) -> StatusOr<int> {
    const auto it = occupancy.find(slice_groups);
    if (it != occupancy.end()) return it->second;
    const int64_t smem = SmemBytes(shape.m, slice_groups);
    int blocks = 0;
    if (limits.blocks_per_sm_for_smem) {
      ASSIGN_OR_RETURN(blocks, limits.blocks_per_sm_for_smem(static_cast<int>(smem)));
    } else {
      blocks = GemvBlocksPerSmModel(limits, smem);
    }
    blocks = std::max(1, blocks);
    occupancy[slice_groups] = blocks;
    return blocks;
  };

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
    // Slices of at least two groups keep the kernel's two-step register pipeline busy.
    const int max_splits = std::max(min_splits, c.groups >= 4 ? c.groups / 2 : c.groups);
    bool best_wave_ok = false;
    double best_time = std::numeric_limits<double>::max();
    for (int s = min_splits; s <= max_splits; ++s) {
      ASSIGN_OR_RETURN(const int bps, blocks_per_sm(gemv::MaxSliceGroups(c.groups, s)));
      const GridEstimate e = EstimateGrid(c.row_blocks, c.groups, s, shape.m, c.num_sms, bps);
      // The wave rule first, then the estimate; ascending s and a strict margin: ties go to
      // fewer splits.
      const bool better =
          (e.wave_ok && !best_wave_ok) || (e.wave_ok == best_wave_ok && e.time < best_time - 1e-9);
      if (splits == 0 || better) {
        splits = s;
        best_wave_ok = e.wave_ok;
        best_time = e.time;
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
  ASSIGN_OR_RETURN(c.blocks_per_sm, blocks_per_sm(c.slice_groups_max));
  c.waves = static_cast<double>(c.blocks()) / (static_cast<double>(c.num_sms) * c.blocks_per_sm);
  if (splits > 1) {
    c.counters_bytes = c.row_blocks * int64_t{sizeof(unsigned)};
    c.partials_offset = CeilDiv(c.counters_bytes, 256) * 256;  // counters first, 256-aligned
    c.workspace_bytes = c.partials_offset + c.row_blocks * splits * gemv::kMmaN *
                                                gemv::kRowsPerBlock * int64_t{sizeof(float)};
  }
  return c;
}

int64_t SplitKCounterLedger::CountersToZero(const GemvLaunchConfig& config) const {
  if (config.k_splits <= 1 || config.counters_bytes <= zero_prefix_bytes_) return 0;
  return config.counters_bytes;
}

void SplitKCounterLedger::Zeroed(int64_t bytes) {
  zero_prefix_bytes_ = std::max(zero_prefix_bytes_, bytes);
}

void SplitKCounterLedger::Launched(const GemvLaunchConfig& config) {
  if (config.k_splits <= 1) return;  // no workspace touched
  zero_prefix_bytes_ = std::min(zero_prefix_bytes_, config.partials_offset);
}

}  // namespace qlab::kernels
