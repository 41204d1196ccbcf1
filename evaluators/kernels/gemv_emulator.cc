// Host emulation of FusedGemvKernel (see gemv_emulator.h). The structure follows
// gemv_kernel.cuh statement by statement; keep the two in step.
#include "evaluators/kernels/gemv_emulator.h"

#include <algorithm>
#include <string>

#include "evaluators/datatypes/minifloat.h"

namespace qlab::kernels {
namespace {

using gemv::FusedGemvArgs;
using gemv::GroupRange;
using gemv::GroupStep;
using gemv::U32x4;

constexpr int kLanes = gemv::kWarpSize;

// The 8 MMAs of one group step for all 32 lanes of a warp, into d (GroupStepMmas on the GPU).
template <class Traits>
void EmulateGroupStepMmas(const GroupStep<Traits> (&steps)[kLanes], int group_in_slice,
                          const std::vector<U32x4>& smem, int row_chunks, int m,
                          float (&d)[kLanes][4]) {
  for (int word = 0; word < 4; ++word) {
    uint32_t a[2][kLanes][4], b[2][kLanes][2];
    for (int lane = 0; lane < kLanes; ++lane) {
      const int g = lane >> 2, t = lane & 3;
      const U32x4* x_row = smem.data() + std::min(g, m - 1) * row_chunks;
      const U32x4 x_chunk = x_row[gemv::BChunkIndex(group_in_slice, t, word)];
      const GroupStep<Traits>& s = steps[lane];
      const gemv::WordFragments f = gemv::MakeWordFragments<Traits>(
          gemv::Word(s.lo, word), gemv::Word(s.hi, word), s.meta_lo, s.meta_hi, word, x_chunk);
      for (int h = 0; h < 2; ++h) {
        for (int r = 0; r < 4; ++r) a[h][lane][r] = f.a[h][r];
        for (int r = 0; r < 2; ++r) b[h][lane][r] = f.b[h][r];
      }
    }
    EmulateMmaM16N8K16(a[0], b[0], d);
    EmulateMmaM16N8K16(a[1], b[1], d);
  }
}

template <class Traits>
std::vector<uint16_t> Emulate(const FusedGemvArgs& args, const GemvLaunchConfig& config) {
  const int m = args.m;
  std::vector<uint16_t> y(static_cast<size_t>(m) * args.n, 0);
  std::vector<float> partials;
  if (args.k_splits > 1) {
    partials.assign(
        static_cast<size_t>(config.row_blocks) * args.k_splits * gemv::kMmaN * gemv::kRowsPerBlock,
        0.f);
  }
  const int row_chunks = gemv::SmemRowChunks(args.slice_groups_max);
  std::vector<U32x4> smem(static_cast<size_t>(m) * row_chunks);

  for (int64_t row_block = 0; row_block < config.row_blocks; ++row_block) {
    for (int split = 0; split < args.k_splits; ++split) {
      const GroupRange range = gemv::SplitGroups(args.groups, args.k_splits, split);
      // Stage the x slice.
      std::fill(smem.begin(), smem.end(), U32x4{0, 0, 0, 0});
      const int chunks = (range.end - range.begin) * gemv::kChunksPerGroup;
      const uint16_t* x_slice = args.x + int64_t{range.begin} * gemv::kGroupK;
      for (int idx = 0; idx < m * chunks; ++idx) {
        const int b = idx / chunks, c = idx - b * chunks;
        smem[b * row_chunks + gemv::SmemChunkSwizzle(c)] =
            gemv::PermuteChunk(gemv::LoadActivations16(x_slice + int64_t{b} * args.k + 8 * c));
      }

      for (int warp = 0; warp < gemv::kWarpsPerBlock; ++warp) {
        int64_t row0[kLanes];
        gemv::LaneRows<Traits> rows[kLanes];
        for (int lane = 0; lane < kLanes; ++lane) {
          const int g = lane >> 2, t = lane & 3;
          row0[lane] = row_block * gemv::kRowsPerBlock + warp * gemv::kRowsPerWarp + g;
          rows[lane] = gemv::MakeLaneRows<Traits>(args, std::min(row0[lane], args.n - 1),
                                                  std::min(row0[lane] + 8, args.n - 1), t);
        }
        float acc[kLanes][4] = {};
        for (int group = range.begin; group < range.end; ++group) {
          GroupStep<Traits> steps[kLanes];
          for (int lane = 0; lane < kLanes; ++lane) {
            steps[lane] = gemv::LoadGroupStep<Traits>(rows[lane], group);
          }
          if constexpr (Traits::kScaleAfterMma) {
            float c[kLanes][4] = {};
            EmulateGroupStepMmas<Traits>(steps, group - range.begin, smem, row_chunks, m, c);
            for (int lane = 0; lane < kLanes; ++lane) {
              gemv::ApplyGroupScale(c[lane], steps[lane].meta_lo.scale, steps[lane].meta_hi.scale,
                                    acc[lane]);
            }
          } else {
            EmulateGroupStepMmas<Traits>(steps, group - range.begin, smem, row_chunks, m, acc);
          }
        }

        for (int lane = 0; lane < kLanes; ++lane) {
          const int g = lane >> 2, t = lane & 3;
          for (int j = 0; j < 4; ++j) {
            const int col = gemv::AccCol(t, j);
            if (col >= m) continue;
            if (args.k_splits == 1) {
              const int64_t row = row0[lane] + (j >> 1) * 8;
              if (row < args.n) {
                y[col * args.n + row] = gemv::FloatToHalfBits(acc[lane][j] * args.out_scale);
              }
            } else {
              partials[gemv::PartialIndex(row_block, split, args.k_splits, col,
                                          gemv::AccLocalRow(warp, g, j))] = acc[lane][j];
            }
          }
        }
      }
    }
    if (args.k_splits == 1) continue;
    // The last block's reduction, in slice order.
    for (int idx = 0; idx < m * gemv::kRowsPerBlock; ++idx) {
      const int col = idx / gemv::kRowsPerBlock, local_row = idx - col * gemv::kRowsPerBlock;
      const int64_t row = row_block * gemv::kRowsPerBlock + local_row;
      if (row >= args.n) continue;
      float sum = 0.f;
      for (int s = 0; s < args.k_splits; ++s) {
        sum += gemv::LoadPartial(partials.data() +
                                 gemv::PartialIndex(row_block, s, args.k_splits, col, local_row));
      }
      y[col * args.n + row] = gemv::FloatToHalfBits(sum * args.out_scale);
    }
  }
  return y;
}

}  // namespace

float FusedOutputScale(GemvKernel kernel, float tensor_scale) {
  return kernel == GemvKernel::kNvfp4 ? tensor_scale * 128.0f : 1.0f;
}

void EmulateMmaM16N8K16(const uint32_t (&a)[32][4], const uint32_t (&b)[32][2], float (&d)[32][4]) {
  double A[16][16], B[16][8];
  auto half = [](uint32_t reg, int lane16) {
    return static_cast<double>(
        datatypes::Fp16BitsToFloat(static_cast<uint16_t>(reg >> (16 * lane16))));
  };
  for (int lane = 0; lane < 32; ++lane) {
    const int g = lane >> 2, t = lane & 3;
    for (int e = 0; e < 2; ++e) {
      A[g][2 * t + e] = half(a[lane][0], e);
      A[g + 8][2 * t + e] = half(a[lane][1], e);
      A[g][2 * t + 8 + e] = half(a[lane][2], e);
      A[g + 8][2 * t + 8 + e] = half(a[lane][3], e);
      B[2 * t + e][g] = half(b[lane][0], e);
      B[2 * t + 8 + e][g] = half(b[lane][1], e);
    }
  }
  for (int lane = 0; lane < 32; ++lane) {
    const int g = lane >> 2, t = lane & 3;
    for (int j = 0; j < 4; ++j) {
      const int row = g + (j >> 1) * 8, col = 2 * t + (j & 1);
      double sum = d[lane][j];
      for (int kk = 0; kk < 16; ++kk) sum += A[row][kk] * B[kk][col];
      d[lane][j] = static_cast<float>(sum);
    }
  }
}

StatusOr<std::vector<uint16_t>> EmulateFusedGemv(const GemvLaunchConfig& config,
                                                 const gemv::PackedPointers& weights,
                                                 float tensor_scale, const uint16_t* x) {
  const GemvShape& s = config.shape;
  RETURN_IF_ERROR(ValidateGemvShape(config.kernel, s));
  if (!IsPackedKernel(config.kernel) || config.k_splits < 1 ||
      config.row_blocks * gemv::kRowsPerBlock < s.n) {
    return Status::InvalidArgument("EmulateFusedGemv: not a fused-kernel launch plan");
  }
  const bool needs_scales = config.kernel != GemvKernel::kNvfp4;
  if (weights.qweight == nullptr || x == nullptr ||
      (needs_scales && (weights.scales == nullptr || weights.aux == nullptr)) ||
      (!needs_scales && weights.block_scales == nullptr)) {
    return Status::InvalidArgument("EmulateFusedGemv: null weight or activation pointer");
  }
  FusedGemvArgs args;
  args.w = weights;
  args.out_scale = FusedOutputScale(config.kernel, tensor_scale);
  args.x = x;
  args.n = s.n;
  args.k = static_cast<int>(s.k);
  args.m = s.m;
  args.groups = config.groups;
  args.k_splits = config.k_splits;
  args.slice_groups_max = config.slice_groups_max;
  switch (config.kernel) {
    case GemvKernel::kRazerW4:
      return Emulate<gemv::RazerTraits>(args, config);
    case GemvKernel::kInt4Asym:
      return Emulate<gemv::Int4AsymTraits>(args, config);
    case GemvKernel::kNvfp4:
      return Emulate<gemv::Nvfp4Traits>(args, config);
    case GemvKernel::kFp16Cublas:
      break;
  }
  return Status::InvalidArgument("EmulateFusedGemv: not a fused kernel");
}

}  // namespace qlab::kernels
