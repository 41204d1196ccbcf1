// Tests of the GEMV kernels. Everything except the GPU tests runs on any machine: the bit-level
// decoders exhaustively against the datatype library, the fragment/k-slot agreement, the
// shared-memory swizzle's bank property, the split-K ranges and planner, the CPU reference on
// hand-computed cases, the host emulator of the kernels against the reference, and the job
// API's argument checks. GPU tests (kernel vs reference, launcher, benchmark) skip with the
// reason when there is no GPU.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <ostream>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "evaluators/datatypes/minifloat.h"
#include "evaluators/datatypes/packing.h"
#include "evaluators/kernels/gemv_check.h"
#include "evaluators/kernels/gemv_emulator.h"
#include "evaluators/kernels/gemv_format.h"
#include "evaluators/kernels/gemv_lane.h"
#include "evaluators/kernels/gemv_plan.h"
#include "evaluators/kernels/gemv_reference.h"
#include "evaluators/kernels/gemv_synthetic.h"
#include "evaluators/kernels/kernel_bench_job.h"

#if defined(QLAB_KERNELS_HAVE_CUDA)
#include "evaluators/kernels/gemv_bench.h"
#include "evaluators/kernels/gemv_cuda.h"
#endif

namespace qlab::kernels {

// Readable parameter names in test output and ctest.
void PrintTo(const GemvCheckCase& c, std::ostream* os) { *os << c.ToString(); }

namespace {

using datatypes::E2M1BitsToFloat;
using datatypes::E4M3BitsToFloat;
using datatypes::Fp16BitsToFloat;

float Lane(uint32_t half2, int lane) {
  return Fp16BitsToFloat(static_cast<uint16_t>(half2 >> (16 * lane)));
}

// Nibble j of the word sits in pair j % 4, lane j / 4.
float DecodedNibble(const uint32_t out[4], int j) { return Lane(out[j % 4], j / 4); }

// ---- Formats ----------------------------------------------------------------------------------

TEST(GemvFormat, NamesRoundTrip) {
  for (GemvKernel k : kAllGemvKernels) {
    ASSERT_TRUE(ParseGemvKernel(GemvKernelName(k)).has_value());
    EXPECT_EQ(*ParseGemvKernel(GemvKernelName(k)), k);
  }
  EXPECT_FALSE(ParseGemvKernel("int4").has_value());
}

TEST(GemvFormat, ShapeErrorsNameMnk) {
  const Status bad_k = ValidateGemvShape(GemvKernel::kRazerW4, {4096, 4100, 1});
  EXPECT_EQ(bad_k.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(bad_k.message().find("k=4100"), std::string::npos) << bad_k.message();
  EXPECT_NE(bad_k.message().find("n=4096"), std::string::npos);
  EXPECT_NE(bad_k.message().find("m=1"), std::string::npos);
  EXPECT_EQ(ValidateGemvShape(GemvKernel::kNvfp4, {64, 128, 9}).code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(ValidateGemvShape(GemvKernel::kInt4Asym, {0, 128, 1}).code(),
            StatusCode::kInvalidArgument);
  EXPECT_TRUE(ValidateGemvShape(GemvKernel::kFp16Cublas, {64, 72, 8}).ok());
  EXPECT_TRUE(ValidateGemvShape(GemvKernel::kRazerW4, {1, 128, 1}).ok());
}

TEST(GemvFormat, BytesMovedCountsEveryTensor) {
  const GemvShape s{4096, 4096, 1};
  const int64_t xy = 2 * 4096 + 2 * 4096;
  EXPECT_EQ(GemvBytesMoved(GemvKernel::kFp16Cublas, s), 4096LL * 4096 * 2 + xy);
  // payload + fp16 scales (32 groups) + selectors (2 words) per row
  EXPECT_EQ(GemvBytesMoved(GemvKernel::kRazerW4, s), 4096LL * (2048 + 64 + 8) + xy);
  EXPECT_EQ(GemvBytesMoved(GemvKernel::kInt4Asym, s), 4096LL * (2048 + 64 + 16) + xy);
  EXPECT_EQ(GemvBytesMoved(GemvKernel::kNvfp4, s), 4096LL * (2048 + 256) + 4 + xy);
  EXPECT_DOUBLE_EQ(GemvBitsPerWeight(GemvKernel::kRazerW4), 4.140625);
}

// ---- Decoders (exhaustive against the datatype library) ---------------------------------------

TEST(GemvDecode, Code8FlagsMatchesNaive) {
  std::mt19937 rng(1);
  for (int iter = 0; iter < 20000; ++iter) {
    const uint32_t w = iter < 16 ? 0x11111111u * iter : rng();
    uint32_t naive = 0;
    for (int j = 0; j < 8; ++j) {
      if (((w >> (4 * j)) & 0xF) == 0x8) naive |= 8u << (4 * j);
    }
    ASSERT_EQ(gemv::Code8Flags(w), naive) << std::hex << w;
  }
}

TEST(GemvDecode, E2m1EveryCodeInEveryNibble) {
  std::mt19937 rng(2);
  for (int trial = 0; trial < 200; ++trial) {
    const uint32_t w = trial < 16 ? 0x11111111u * trial : rng();
    uint32_t out[4];
    gemv::DecodeE2m1Word(w, 0, 0, out);
    for (int j = 0; j < 8; ++j) {
      const uint8_t code = (w >> (4 * j)) & 0xF;
      const float got = DecodedNibble(out, j) * 16384.0f;
      const float want = E2M1BitsToFloat(code);
      ASSERT_EQ(got, want) << "code " << int(code) << " nibble " << j;
      ASSERT_EQ(std::signbit(got), std::signbit(want)) << "code " << int(code);
    }
    for (int p = 0; p < 4; ++p) ASSERT_EQ(out[p] & 0x00FF00FFu, 0u) << "low bytes must be 0";
  }
}

TEST(GemvDecode, RazerGridValuesIncludingSpecialValue) {
  std::mt19937 rng(3);
  for (uint32_t sel = 0; sel < 4; ++sel) {
    gemv::RazerTraits::Meta meta{gemv::RazerSvDelta(sel), 1.0f};
    for (int trial = 0; trial < 300; ++trial) {
      const uint32_t w = trial < 16 ? 0x11111111u * trial : rng();
      uint32_t out[4];
      gemv::RazerTraits::DecodeWord(w, meta, 0, out);
      for (int j = 0; j < 8; ++j) {
        const uint8_t code = (w >> (4 * j)) & 0xF;
        const float want =
            code == 0x8 ? datatypes::kRazerSpecialValues[sel] : E2M1BitsToFloat(code);
        ASSERT_EQ(DecodedNibble(out, j), want) << "sel " << sel << " code " << int(code);
      }
    }
  }
}

TEST(GemvDecode, Int4AllZeroPointsAndCodes) {
  std::mt19937 rng(4);
  for (uint32_t zero = 0; zero < 16; ++zero) {
    gemv::Int4AsymTraits::Meta meta{gemv::Int4ZeroBiasHalf2(zero),
                                    gemv::Int4NegZeroBias16Half2(zero), 1.0f};
    for (int trial = 0; trial < 100; ++trial) {
      const uint32_t w = trial < 16 ? 0x11111111u * trial : rng();
      uint32_t out[4];
      gemv::Int4AsymTraits::DecodeWord(w, meta, 0, out);
      for (int j = 0; j < 8; ++j) {
        const int q = (w >> (4 * j)) & 0xF;
        ASSERT_EQ(DecodedNibble(out, j), static_cast<float>(q - static_cast<int>(zero)))
            << "q " << q << " zero " << zero;
      }
    }
  }
}

TEST(GemvDecode, Nvfp4EveryScaleByteEveryCode) {
  for (uint32_t scale = 0; scale < 256; ++scale) {
    if ((scale & 0x7F) == 0x7F) continue;  // NaN encodings
    uint32_t first = 0, second = 0;
    gemv::Nvfp4ScalePairTimes128(scale | (0x38u << 8), &first, &second);  // second = 1.0
    ASSERT_EQ(Lane(first, 0), E4M3BitsToFloat(static_cast<uint8_t>(scale)) * 128.0f);
    ASSERT_EQ(Lane(first, 1), Lane(first, 0));
    ASSERT_EQ(Lane(second, 0), 128.0f);
    gemv::Nvfp4Traits::Meta meta{{first, second}};
    for (int word = 0; word < 4; ++word) {
      const uint32_t w = 0x76543210u + (word & 1) * 0x88888888u;  // all 16 codes
      uint32_t out[4];
      gemv::Nvfp4Traits::DecodeWord(w, meta, word, out);
      const float s = word < 2 ? E4M3BitsToFloat(static_cast<uint8_t>(scale)) : 1.0f;
      for (int j = 0; j < 8; ++j) {
        const uint8_t code = (w >> (4 * j)) & 0xF;
        // e2m1 * e4m3 * 2^-7 is exact in FP16 for every pair of values.
        ASSERT_EQ(DecodedNibble(out, j) * 128.0f, E2M1BitsToFloat(code) * s)
            << "scale " << scale << " code " << int(code);
      }
    }
  }
}

// ---- Fragments, shared memory, split-K ---------------------------------------------------------

// A and B of each MMA must name the same physical k in every slot: decode k indices as INT4
// values (nibble j of the word = j) and stage x_j = j, then compare the fragments lane by lane.
TEST(GemvFragments, WeightAndActivationSlotsAgree) {
  gemv::Int4AsymTraits::Meta meta{gemv::Int4ZeroBiasHalf2(0), gemv::Int4NegZeroBias16Half2(0),
                                  1.0f};
  const uint32_t w = 0x76543210u;
  gemv::U32x4 x;
  uint16_t halves[8];
  for (int j = 0; j < 8; ++j) halves[j] = datatypes::FloatToFp16Bits(static_cast<float>(j));
  std::memcpy(&x, halves, sizeof(halves));
  const gemv::WordFragments f =
      gemv::MakeWordFragments<gemv::Int4AsymTraits>(w, w, meta, meta, 0, gemv::PermuteChunk(x));
  std::set<float> seen;
  for (int h = 0; h < 2; ++h) {
    for (int lane = 0; lane < 2; ++lane) {
      // a[h][0]/a[h][1]: rows g/g+8 at slots 2t, 2t+1 <-> b[h][0]; a[h][2]/[3] <-> b[h][1].
      EXPECT_EQ(Lane(f.a[h][0], lane), Lane(f.b[h][0], lane));
      EXPECT_EQ(Lane(f.a[h][1], lane), Lane(f.b[h][0], lane));
      EXPECT_EQ(Lane(f.a[h][2], lane), Lane(f.b[h][1], lane));
      EXPECT_EQ(Lane(f.a[h][3], lane), Lane(f.b[h][1], lane));
      seen.insert(Lane(f.b[h][0], lane));
      seen.insert(Lane(f.b[h][1], lane));
    }
  }
  EXPECT_EQ(seen.size(), 8u) << "the word's 8 k must each be used once";
}

TEST(GemvSmem, SwizzleIsABijectionPerGroup) {
  for (int group = 0; group < 4; ++group) {
    std::set<int> positions;
    for (int c = 0; c < 16; ++c) {
      const int p = gemv::SmemChunkSwizzle(group * 16 + c);
      EXPECT_GE(p, group * 16);
      EXPECT_LT(p, group * 16 + 16);
      positions.insert(p);
    }
    EXPECT_EQ(positions.size(), 16u);
  }
}

// 16-byte loads are served a quarter warp (8 lanes) at a time: those 8 lanes must hit 8
// different 16-byte bank groups, for any batch (lanes with g >= m read row m-1).
TEST(GemvSmem, BFragmentLoadsAreBankConflictFree) {
  for (int m = 1; m <= 8; ++m) {
    for (int slice_groups : {1, 3, 23}) {
      const int row_chunks = gemv::SmemRowChunks(slice_groups);
      for (int group = 0; group < slice_groups; ++group) {
        for (int word = 0; word < 4; ++word) {
          for (int quarter = 0; quarter < 4; ++quarter) {
            std::set<int> chunks, banks;
            for (int lane = 8 * quarter; lane < 8 * quarter + 8; ++lane) {
              const int g = lane >> 2, t = lane & 3;
              const int chunk = std::min(g, m - 1) * row_chunks + gemv::BChunkIndex(group, t, word);
              if (chunks.insert(chunk).second) banks.insert(chunk % 8);
            }
            EXPECT_EQ(banks.size(), chunks.size())
                << "m=" << m << " group=" << group << " word=" << word << " quarter=" << quarter;
          }
        }
      }
    }
  }
}

TEST(GemvSplit, RangesCoverEveryGroupOnce) {
  for (int groups : {1, 2, 7, 32, 86, 224}) {
    for (int splits = 1; splits <= groups; splits += std::max(1, groups / 9)) {
      int next = 0;
      for (int s = 0; s < splits; ++s) {
        const gemv::GroupRange r = gemv::SplitGroups(groups, splits, s);
        EXPECT_EQ(r.begin, next);
        EXPECT_GE(r.end - r.begin, groups / splits);
        EXPECT_LE(r.end - r.begin, gemv::MaxSliceGroups(groups, splits));
        next = r.end;
      }
      EXPECT_EQ(next, groups);
    }
  }
}

// ---- Planner ------------------------------------------------------------------------------------

const std::vector<std::pair<int64_t, int64_t>> kLlmShapes = {
    {4096, 4096}, {11008, 4096}, {4096, 11008}, {8192, 8192}, {28672, 8192}, {8192, 28672}};

// The wave rule of gemv_plan.h: at most one wave, or a last wave that is whole or >= half full.
bool LastWaveAtLeastHalfFull(const GemvLaunchConfig& c) {
  const int64_t wave = int64_t{c.num_sms} * c.blocks_per_sm;
  const int64_t tail = c.blocks() % wave;
  return c.blocks() <= wave || tail == 0 || 2 * tail >= wave;
}

TEST(GemvPlan, LlmShapesFillWholeWavesOnAnH100) {
  EXPECT_EQ(GemvDeviceLimits{}.blocks_per_sm, gemv::kMinBlocksPerSm);
  // 132 SMs; 6 blocks per SM is what the kernels' __launch_bounds__ give, 5 what INT4 had
  // without the minimum (89 registers), 4 and 8 bracket them.
  for (int blocks_per_sm : {4, 5, 6, 8}) {
    GemvDeviceLimits h100;
    h100.blocks_per_sm = blocks_per_sm;
    for (GemvKernel kernel : {GemvKernel::kRazerW4, GemvKernel::kInt4Asym, GemvKernel::kNvfp4}) {
      for (auto [n, k] : kLlmShapes) {
        for (int m : {1, 4, 8}) {
          const auto c = PlanFusedGemv(kernel, {n, k, m}, h100);
          ASSERT_TRUE(c.ok()) << c.status().ToString();
          const std::string where = std::to_string(n) + "x" + std::to_string(k) +
                                    " m=" + std::to_string(m) + " " +
                                    std::to_string(blocks_per_sm) + "/SM: " + c->ToString();
          EXPECT_EQ(c->row_blocks, (n + 63) / 64);
          EXPECT_GE(c->k_splits, 1);
          EXPECT_LE(c->k_splits, c->groups);
          EXPECT_EQ(c->slice_groups_max, gemv::MaxSliceGroups(c->groups, c->k_splits));
          EXPECT_LE(c->smem_bytes, kGemvSmemBudgetBytes) << where;
          EXPECT_EQ(c->smem_bytes, m * gemv::SmemRowChunks(c->slice_groups_max) * 16);
          // The occupancy is the one of the launched kernel at this plan's shared memory.
          EXPECT_EQ(c->num_sms, 132);
          EXPECT_EQ(c->blocks_per_sm, GemvBlocksPerSmModel(h100, c->smem_bytes)) << where;
          EXPECT_GE(c->blocks_per_sm, std::min(blocks_per_sm, kGemvSaturatingBlocksPerSm));
          EXPECT_DOUBLE_EQ(c->waves, static_cast<double>(c->blocks()) / (132.0 * c->blocks_per_sm));
          EXPECT_TRUE(LastWaveAtLeastHalfFull(*c)) << where;
          // Enough blocks to saturate DRAM: >= 90% of 4 per SM.
          EXPECT_GE(c->blocks(), 0.9 * 132 * std::min(c->blocks_per_sm, kGemvSaturatingBlocksPerSm))
              << where;
          if (c->k_splits > 1) {
            EXPECT_EQ(c->counters_bytes, c->row_blocks * 4);
            EXPECT_EQ(c->workspace_bytes,
                      c->partials_offset + c->row_blocks * c->k_splits * 8 * 64 * 4);
            EXPECT_GE(c->partials_offset, c->counters_bytes);
            EXPECT_EQ(c->partials_offset % 256, 0);
          } else {
            EXPECT_EQ(c->workspace_bytes, 0);
            EXPECT_EQ(c->counters_bytes, 0);
          }
        }
      }
    }
  }
}

// The cases the review found: with INT4's former 5 blocks per SM (660 slots), 4096^2 got 704
// blocks (a 44-block second wave) and 11008x4096 2.1 waves.
TEST(GemvPlan, NoNearlyEmptyLastWave) {
  GemvDeviceLimits h100;
  h100.blocks_per_sm = 5;
  for (int m : {1, 4, 8}) {
    const auto square = PlanFusedGemv(GemvKernel::kInt4Asym, {4096, 4096, m}, h100);
    ASSERT_TRUE(square.ok());
    EXPECT_NE(square->blocks(), 704) << square->ToString();
    EXPECT_LE(square->waves, 1.0) << square->ToString();
    const auto mlp = PlanFusedGemv(GemvKernel::kInt4Asym, {11008, 4096, m}, h100);
    ASSERT_TRUE(mlp.ok());
    const double fraction = mlp->waves - std::floor(mlp->waves);
    EXPECT_TRUE(mlp->waves <= 1.0 || fraction == 0.0 || fraction >= 0.5) << mlp->ToString();
  }
}

// The device side supplies the occupancy of the kernel it will launch at each plan's shared
// memory; the plan reports, and its waves use, exactly that value.
TEST(GemvPlan, UsesTheOccupancyOfTheLaunchedKernel) {
  GemvDeviceLimits limits;
  std::vector<int> asked;
  limits.blocks_per_sm_for_smem = [&](int smem_bytes) -> StatusOr<int> {
    asked.push_back(smem_bytes);
    return smem_bytes > 16 * 1024 ? 3 : 7;
  };
  for (int m : {1, 8}) {
    asked.clear();
    const auto c = PlanFusedGemv(GemvKernel::kRazerW4, {8192, 28672, m}, limits);
    ASSERT_TRUE(c.ok()) << c.status().ToString();
    EXPECT_FALSE(asked.empty());
    EXPECT_NE(std::find(asked.begin(), asked.end(), c->smem_bytes), asked.end());
    EXPECT_EQ(c->blocks_per_sm, c->smem_bytes > 16 * 1024 ? 3 : 7) << c->ToString();
    EXPECT_TRUE(LastWaveAtLeastHalfFull(*c)) << c->ToString();
    // Each distinct slice length is asked once.
    std::set<int> distinct(asked.begin(), asked.end());
    EXPECT_EQ(distinct.size(), asked.size());
  }
  limits.blocks_per_sm_for_smem = [](int) -> StatusOr<int> {
    return Status::Internal("occupancy query failed");
  };
  const auto failed = PlanFusedGemv(GemvKernel::kNvfp4, {4096, 4096, 1}, limits);
  EXPECT_EQ(failed.status().code(), StatusCode::kInternal);
  EXPECT_NE(failed.status().message().find("occupancy query failed"), std::string::npos);
}

TEST(GemvPlan, OccupancyModelCountsSharedMemory) {
  GemvDeviceLimits h100;  // 6 blocks per SM from registers, 228 KB shared memory, 1 KB reserved
  EXPECT_EQ(GemvBlocksPerSmModel(h100, 0), 6);
  EXPECT_EQ(GemvBlocksPerSmModel(h100, 8 * 2064), 6);  // m = 8, 1 group per slice
  // 48 KB + 16 B static -> 48.125 KB + 1 KB reserved: 4 fit in 228 KB.
  EXPECT_EQ(GemvBlocksPerSmModel(h100, kGemvSmemBudgetBytes), 4);
  EXPECT_EQ(GemvBlocksPerSmModel(h100, 227 * 1024), 1);
  const auto c = PlanFusedGemv(GemvKernel::kRazerW4, {4096, 4096, 1}, h100);
  ASSERT_TRUE(c.ok());
  EXPECT_NE(c->ToString().find("waves"), std::string::npos) << c->ToString();
}

// Split-K counter bookkeeping (what GemvWorkspace acts on): a fresh or zeroed workspace needs
// nothing, a failed launch forces a reset, and a plan with fewer row blocks, whose partials
// cover the counters of one with more, makes the larger plan reset first.
TEST(GemvPlan, SplitKCountersAreResetWhenNotKnownZero) {
  const GemvDeviceLimits limits;
  const auto big = PlanFusedGemv(GemvKernel::kRazerW4, {64 * 1000, 1024, 1}, limits, 4);
  const auto small = PlanFusedGemv(GemvKernel::kRazerW4, {64 * 10, 1024, 1}, limits, 4);
  const auto unsplit = PlanFusedGemv(GemvKernel::kRazerW4, {64 * 10, 1024, 1}, limits, 1);
  ASSERT_TRUE(big.ok() && small.ok() && unsplit.ok());
  ASSERT_GT(big->counters_bytes, small->partials_offset);  // the overlap this guards against

  SplitKCounterLedger ledger;
  EXPECT_EQ(ledger.CountersToZero(*big), big->counters_bytes);  // nothing known yet
  EXPECT_EQ(ledger.CountersToZero(*unsplit), 0);                // no counters used
  ledger.Zeroed(big->workspace_bytes);                          // Reserve zero-fills
  EXPECT_EQ(ledger.CountersToZero(*big), 0);
  ledger.Launched(*big);  // ends with its counters zero again
  EXPECT_EQ(ledger.CountersToZero(*big), 0);
  EXPECT_EQ(ledger.CountersToZero(*small), 0);

  // An aborted launch: every counter is suspect until zeroed.
  ledger.Aborted();
  EXPECT_EQ(ledger.CountersToZero(*small), small->counters_bytes);
  EXPECT_EQ(ledger.CountersToZero(*big), big->counters_bytes);
  ledger.Zeroed(small->counters_bytes);
  EXPECT_EQ(ledger.CountersToZero(*small), 0);
  EXPECT_EQ(ledger.CountersToZero(*big), big->counters_bytes);
  ledger.Zeroed(big->counters_bytes);
  EXPECT_EQ(ledger.CountersToZero(*big), 0);

  // The small plan's partials land on the big plan's counters.
  ledger.Launched(*small);
  EXPECT_EQ(ledger.zero_prefix_bytes(), small->partials_offset);
  EXPECT_EQ(ledger.CountersToZero(*small), 0);
  EXPECT_EQ(ledger.CountersToZero(*big), big->counters_bytes);
  ledger.Launched(*unsplit);  // touches no workspace
  EXPECT_EQ(ledger.zero_prefix_bytes(), small->partials_offset);
}

TEST(GemvPlan, ForcedSplitsAndErrors) {
  const GemvDeviceLimits limits;
  const auto c = PlanFusedGemv(GemvKernel::kNvfp4, {100, 384, 3}, limits, 3);
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->k_splits, 3);
  EXPECT_EQ(c->slice_groups_max, 1);
  EXPECT_EQ(PlanFusedGemv(GemvKernel::kNvfp4, {100, 384, 3}, limits, 4).status().code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(PlanFusedGemv(GemvKernel::kFp16Cublas, {100, 384, 3}, limits).status().code(),
            StatusCode::kInvalidArgument);
  // One split over k = 2^20 at batch 8 needs far more shared memory than a block has.
  const auto huge = PlanFusedGemv(GemvKernel::kRazerW4, {64, 1 << 20, 8}, limits, 1);
  EXPECT_EQ(huge.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(huge.status().message().find("k=1048576"), std::string::npos);
}

// ---- MMA emulation ------------------------------------------------------------------------------

// With A = identity, D = B: checks that the emulator's A, B and D layouts are consistent with
// each other (the same layouts the kernel assumes).
TEST(GemvMma, IdentityTimesBIsB) {
  uint32_t a[32][4] = {}, b[32][2];
  float d[32][4] = {};
  const uint32_t one = datatypes::FloatToFp16Bits(1.0f);
  auto value = [](int k, int n) { return static_cast<float>(k * 8 + n); };
  for (int lane = 0; lane < 32; ++lane) {
    const int g = lane >> 2, t = lane & 3;
    // A[g][2t..2t+1] (reg 0), A[g+8][..] (reg 1), A[g][2t+8..] (reg 2), A[g+8][2t+8..] (reg 3).
    auto a_lane = [&](int row, int col0) {
      return (row == col0 ? one : 0u) | (row == col0 + 1 ? one : 0u) << 16;
    };
    a[lane][0] = a_lane(g, 2 * t);
    a[lane][1] = a_lane(g + 8, 2 * t);
    a[lane][2] = a_lane(g, 2 * t + 8);
    a[lane][3] = a_lane(g + 8, 2 * t + 8);
    auto b_lane = [&](int k0) {
      return static_cast<uint32_t>(datatypes::FloatToFp16Bits(value(k0, g))) |
             static_cast<uint32_t>(datatypes::FloatToFp16Bits(value(k0 + 1, g))) << 16;
    };
    b[lane][0] = b_lane(2 * t);
    b[lane][1] = b_lane(2 * t + 8);
  }
  EmulateMmaM16N8K16(a, b, d);
  for (int lane = 0; lane < 32; ++lane) {
    const int g = lane >> 2, t = lane & 3;
    EXPECT_EQ(d[lane][0], value(g, 2 * t));
    EXPECT_EQ(d[lane][1], value(g, 2 * t + 1));
    EXPECT_EQ(d[lane][2], value(g + 8, 2 * t));
    EXPECT_EQ(d[lane][3], value(g + 8, 2 * t + 1));
  }
}

// ---- Reference ----------------------------------------------------------------------------------

TEST(GemvReference, HandComputedRazerSpecialValues) {
  datatypes::PackedRazerW4 w;
  w.n = 2;
  w.k = 128;
  w.qweight.assign(2 * 16, 0x88888888u);  // every element is the special value
  w.scales_fp16 = {datatypes::FloatToFp16Bits(0.5f), datatypes::FloatToFp16Bits(0.25f)};
  w.selectors = {1u, 2u};  // row 0: +8, row 1: -5
  std::vector<uint16_t> x(128, datatypes::FloatToFp16Bits(1.0f));
  const std::vector<double> y = ReferenceGemv(w, x.data(), 1);
  ASSERT_EQ(y.size(), 2u);
  EXPECT_DOUBLE_EQ(y[0], 128 * 8 * 0.5);
  EXPECT_DOUBLE_EQ(y[1], 128 * -5 * 0.25);
}

TEST(GemvReference, HandComputedInt4AndNvfp4) {
  datatypes::PackedInt4Asym i;
  i.n = 1;
  i.k = 128;
  i.qweight.assign(16, 0xFFFFFFFFu);  // q = 15
  i.scales_fp16 = {datatypes::FloatToFp16Bits(2.0f)};
  i.zeros = {3u};
  std::vector<uint16_t> x(2 * 128, datatypes::FloatToFp16Bits(0.5f));
  std::vector<double> y = ReferenceGemv(i, x.data(), 2);
  EXPECT_DOUBLE_EQ(y[0], 128 * (15 - 3) * 2.0 * 0.5);
  EXPECT_DOUBLE_EQ(y[1], y[0]);

  datatypes::PackedNvfp4 f;
  f.n = 1;
  f.k = 128;
  f.qweight.assign(16, 0x77777777u);  // +6
  f.block_scales.assign(8, 0x38);     // 1.0
  f.tensor_scale = 0.25f;
  y = ReferenceGemv(f, x.data(), 1);
  EXPECT_DOUBLE_EQ(y[0], 128 * 6 * 0.25 * 0.5);
}

TEST(GemvReference, ComparisonUsesRmsFloorAndCountsNonFinite) {
  const std::vector<double> ref = {100.0, -100.0, 0.0, 0.001};
  std::vector<uint16_t> got = {
      datatypes::FloatToFp16Bits(100.0f), datatypes::FloatToFp16Bits(-100.0f),
      datatypes::FloatToFp16Bits(0.05f), datatypes::FloatToFp16Bits(0.001f)};
  GemvComparison c = CompareGemv(ref, got);
  EXPECT_NEAR(c.max_rel_err, 0.05 / c.ref_rms, 1e-6);  // near-zero output measured against rms
  EXPECT_EQ(c.worst_index, 2);
  EXPECT_TRUE(c.ok());
  got[0] = 0x7E00;  // NaN
  c = CompareGemv(ref, got);
  EXPECT_EQ(c.non_finite, 1);
  EXPECT_FALSE(c.ok());
}

// ---- Synthetic data -----------------------------------------------------------------------------

TEST(GemvSynthetic, RowSubsetsMatchTheFullMatrix) {
  const GemvShape s{50, 256, 2};
  const auto full = SynthRazerW4Rows(s, 9, AllRows(50));
  const auto some = SynthRazerW4Rows(s, 9, {3, 49});
  for (int j = 0; j < 32; ++j) EXPECT_EQ(some.qweight[32 + j], full.qweight[49 * 32 + j]);
  EXPECT_EQ(some.scales_fp16[0], full.scales_fp16[3 * 2]);
  const std::vector<int64_t> rows = SampleRows(28672, 256);
  EXPECT_EQ(rows.size(), 256u);
  EXPECT_EQ(rows.front(), 0);
  EXPECT_EQ(rows.back(), 28671);
  EXPECT_TRUE(std::is_sorted(rows.begin(), rows.end()));
  EXPECT_EQ(std::set<int64_t>(rows.begin(), rows.end()).size(), rows.size());
  const auto scales = SynthNvfp4Rows(s, 9, {0});
  for (uint8_t b : scales.block_scales) {
    EXPECT_NE(b & 0x7F, 0x7F);
    EXPECT_GT(E4M3BitsToFloat(b), 0.0f);
  }
}

// ---- The host emulator of the kernels ---------------------------------------------------------

class GemvEmulatorTest : public ::testing::TestWithParam<GemvCheckCase> {};

TEST_P(GemvEmulatorTest, MatchesReference) {
  const GemvCheckResult r = RunEmulatorCheck(GetParam());
  EXPECT_TRUE(r.ok()) << r.ToString();
}

INSTANTIATE_TEST_SUITE_P(Cases, GemvEmulatorTest, ::testing::ValuesIn(EmulatorCheckCases()),
                         [](const ::testing::TestParamInfo<GemvCheckCase>& info) {
                           return std::string(GemvKernelName(info.param.kernel)) + "_" +
                                  std::to_string(info.index);
                         });

// ---- Job API ------------------------------------------------------------------------------------

TEST(KernelBenchJob, RejectsBadParametersBeforeLookingForAGpu) {
  JobContext ctx;
  KernelBenchParams p{"int8", 4096, 4096, 1};
  EXPECT_EQ(RunKernelBenchJob(p, ctx).status().code(), StatusCode::kInvalidArgument);
  p = {"razer_w4", 4096, 4000, 1};
  const auto bad_k = RunKernelBenchJob(p, ctx);
  EXPECT_EQ(bad_k.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(bad_k.status().message().find("k=4000"), std::string::npos);
  p = {"nvfp4", 4096, 4096, 9};
  EXPECT_EQ(RunKernelBenchJob(p, ctx).status().code(), StatusCode::kInvalidArgument);
  p = {"fp16_cublas", 4096, 4096, 1, 0};
  EXPECT_EQ(RunKernelBenchJob(p, ctx).status().code(), StatusCode::kInvalidArgument);
}

// A failed output check is the job's error: which kernel, shape and batch, the error against
// the bound and where the worst output is.
TEST(KernelBenchJob, FailedCheckFailsTheJob) {
  KernelBenchCheck check;
  check.kernel = GemvKernel::kInt4Asym;
  check.shape = {4096, 11008, 8};
  check.rows_checked = 256;
  check.comparison.max_rel_err = 0.031;
  check.comparison.worst_index = 3 * 256 + 17;
  check.worst_batch = 3;
  check.worst_row = 1234;
  const Status failed = KernelBenchCheckStatus(check);
  EXPECT_EQ(failed.code(), StatusCode::kInternal);
  for (const char* part : {"int4_asym", "m=8", "n=4096", "k=11008", "max_rel_err 0.031",
                           "bound 0.004", "batch row 3", "weight row 1234", "256 rows"}) {
    EXPECT_NE(failed.message().find(part), std::string::npos) << part << " in " << failed.message();
  }

  // Non-finite outputs fail even when the finite ones are close.
  check.comparison.max_rel_err = 1e-4;
  check.comparison.non_finite = 2;
  const Status nan = KernelBenchCheckStatus(check);
  EXPECT_EQ(nan.code(), StatusCode::kInternal);
  EXPECT_NE(nan.message().find("2 non-finite"), std::string::npos) << nan.message();

  check.comparison.non_finite = 0;
  EXPECT_TRUE(KernelBenchCheckStatus(check).ok());
  check.rows_checked = 0;  // the job always checks; no rows is not a pass
  EXPECT_EQ(KernelBenchCheckStatus(check).code(), StatusCode::kInternal);
}

TEST(KernelBenchJob, UnavailableWithoutGpu) {
  std::string why_not;
  if (CudaAvailable(&why_not)) GTEST_SKIP() << "a GPU is present";
  EXPECT_FALSE(why_not.empty());
  std::string devices_why;
  EXPECT_TRUE(CudaDevices(&devices_why).empty());
  EXPECT_EQ(devices_why, why_not);
  JobContext ctx;
  const auto r = RunKernelBenchJob({"razer_w4", 4096, 4096, 1}, ctx);
  EXPECT_EQ(r.status().code(), StatusCode::kUnavailable);
  EXPECT_NE(r.status().message().find(why_not), std::string::npos) << r.status().message();
}

// ---- GPU ----------------------------------------------------------------------------------------

#if defined(QLAB_KERNELS_HAVE_CUDA)

#define SKIP_WITHOUT_GPU()                                       \
  do {                                                           \
    std::string why_not;                                         \
    if (!CudaDeviceAvailable(&why_not)) GTEST_SKIP() << why_not; \
  } while (0)

// The launcher's checks run before any CUDA call, so they are tested everywhere.
TEST(GemvLaunch, RejectsConfigsPlannedForAnotherShape) {
  auto config = PlanFusedGemv(GemvKernel::kRazerW4, {128, 256, 2}, GemvDeviceLimits{});
  ASSERT_TRUE(config.ok());
  config->shape.n = 200;
  const Status s = LaunchFusedGemv(*config, {}, 1.0f, nullptr, nullptr, nullptr, nullptr);
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(s.message().find("n=200"), std::string::npos) << s.message();
}

TEST(GemvLaunch, RejectsNullPointersAndMissingWorkspace) {
  auto config = PlanFusedGemv(GemvKernel::kInt4Asym, {128, 512, 1}, GemvDeviceLimits{}, 2);
  ASSERT_TRUE(config.ok());
  alignas(16) static uint32_t q[128 * 64];
  alignas(16) static uint16_t scales[128 * 4], x[512], y[128];
  alignas(16) static uint32_t zeros[128];
  gemv::PackedPointers p;
  p.qweight = q;
  EXPECT_EQ(LaunchFusedGemv(*config, p, 1.0f, x, y, nullptr, nullptr).code(),
            StatusCode::kInvalidArgument);  // no scales/zeros
  p.scales = scales;
  p.aux = zeros;
  const Status s = LaunchFusedGemv(*config, p, 1.0f, x, y, nullptr, nullptr);
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);  // split-K without a workspace
  EXPECT_NE(s.message().find("workspace"), std::string::npos) << s.message();
  EXPECT_EQ(LaunchFusedGemv(*config, p, 1.0f, x + 1, y, nullptr, nullptr).code(),
            StatusCode::kInvalidArgument);  // misaligned x
}

// One test over the whole quick sweep (~250 cases), so machines without a GPU skip it once.
TEST(GemvGpu, SweepMatchesReferenceAndIsDeterministic) {
  SKIP_WITHOUT_GPU();
  int failures = 0;
  for (const GemvCheckCase& c : StandardCheckCases(true)) {
    const GemvCheckResult r = RunGpuCheck(c);
    EXPECT_TRUE(r.ok()) << r.ToString();
    if (!r.ok()) ++failures;
  }
  EXPECT_EQ(failures, 0);
}

TEST(GemvBenchmarkTest, UnavailableWithoutGpu) {
  std::string why_not;
  if (CudaDeviceAvailable(&why_not)) GTEST_SKIP() << "a GPU is present";
  const auto b = GemvBenchmark::Create(0, {});
  EXPECT_EQ(b.status().code(), StatusCode::kUnavailable);
  EXPECT_NE(b.status().message().find("no GPU"), std::string::npos) << b.status().message();
}

TEST(GemvBenchmarkTest, TimesAndChecksASmallProblem) {
  SKIP_WITHOUT_GPU();
  GemvBenchOptions options;
  options.repetitions = 10;
  options.warmup_ms = 5;
  auto bench = GemvBenchmark::Create(0, options);
  ASSERT_TRUE(bench.ok()) << bench.status().ToString();
  const auto copy = (*bench)->CopyBandwidthGbps();
  ASSERT_TRUE(copy.ok()) << copy.status().ToString();
  EXPECT_GT(*copy, 10.0);
  for (GemvKernel kernel : kAllGemvKernels) {
    const auto t = (*bench)->Run(kernel, {1024, 2048, 3});
    ASSERT_TRUE(t.ok()) << t.status().ToString();
    EXPECT_GT(t->median_us, 0.0);
    EXPECT_GT(t->rows_checked, 0);
    EXPECT_TRUE(t->check.ok()) << GemvKernelName(kernel) << " " << t->check.ToString();
    // A sample is >= 200 us of GPU time (these launches take a few us each).
    EXPECT_GE(t->launches_per_sample, 2);
    EXPECT_GE(t->median_us * t->launches_per_sample, 0.5 * options.min_sample_us);
    EXPECT_GE(t->warmup_ms, options.warmup_ms);
    EXPECT_EQ(t->host_bound_samples, 0);
    EXPECT_EQ(t->read.bytes, (t->bytes_moved - 2 * 3 * 1024 + 15) / 16 * 16);
    EXPECT_GT(t->read.read_bw_gbps, 10.0);
    EXPECT_GT(t->pct_of_read_bw(), 0.0);
    const std::string json = GemvTimingToJson(*t, (*bench)->device(), *copy, 0);
    for (const char* key :
         {"\"read_bw_gbps\"", "\"pct_of_read_bw\"", "\"launches_per_sample\"", "\"warmup_ms\""}) {
      EXPECT_NE(json.find(key), std::string::npos) << key;
    }
  }
}

// The read-only reference reads at least as fast as the copy moves bytes (it writes nothing).
TEST(GemvBenchmarkTest, ReadReferenceIsNotSlowerThanCopy) {
  SKIP_WITHOUT_GPU();
  GemvBenchOptions options;
  options.repetitions = 20;
  auto bench = GemvBenchmark::Create(0, options);
  ASSERT_TRUE(bench.ok()) << bench.status().ToString();
  const auto copy = (*bench)->CopyBandwidthGbps();
  ASSERT_TRUE(copy.ok()) << copy.status().ToString();
  const auto read = (*bench)->ReadBandwidth(256 << 20);
  ASSERT_TRUE(read.ok()) << read.status().ToString();
  EXPECT_GT(read->read_bw_gbps, 0.8 * *copy) << read->read_bw_gbps << " vs copy " << *copy;
  EXPECT_EQ((*bench)->ReadBandwidth(0).status().code(), StatusCode::kInvalidArgument);
}

// Split-K counters left non-zero by an aborted launch, or covered by the partials of a plan
// with fewer row blocks, must not corrupt the next launch that shares the workspace.
TEST(GemvGpu, SplitKCountersRecoverAfterAbortAndAcrossPlans) {
  SKIP_WITHOUT_GPU();
  const GemvShape big_shape{64 * 200, 1024, 2}, small_shape{64 * 4, 1024, 2};
  auto big = PlanFusedGemvForDevice(GemvKernel::kInt4Asym, big_shape, 4);
  auto small = PlanFusedGemvForDevice(GemvKernel::kInt4Asym, small_shape, 4);
  ASSERT_TRUE(big.ok() && small.ok());
  ASSERT_GT(big->counters_bytes, small->partials_offset);
  auto w_big = MakeSyntheticWeights(GemvKernel::kInt4Asym, big_shape, 3);
  auto w_small = MakeSyntheticWeights(GemvKernel::kInt4Asym, small_shape, 4);
  auto x = MakeSyntheticActivations(big_shape, 5);
  auto y = DeviceBuffer::Allocate(int64_t{2} * big_shape.m * big_shape.n);
  ASSERT_TRUE(w_big.ok() && w_small.ok() && x.ok() && y.ok());
  GemvWorkspace workspace;
  ASSERT_TRUE(workspace.Reserve(std::max(big->workspace_bytes, small->workspace_bytes)).ok());

  auto run = [&](const GemvLaunchConfig& c, const DevicePackedWeights& w) {
    std::vector<uint16_t> out(static_cast<size_t>(c.shape.m) * c.shape.n);
    EXPECT_TRUE(cudaMemset(y->get(), 0xFF, out.size() * 2) == cudaSuccess);
    const Status s = LaunchFusedGemv(c, w.pointers(), w.tensor_scale, x->as<const uint16_t>(),
                                     y->as<uint16_t>(), &workspace, nullptr);
    EXPECT_TRUE(s.ok()) << s.ToString();
    EXPECT_TRUE(cudaDeviceSynchronize() == cudaSuccess);
    EXPECT_TRUE(cudaMemcpy(out.data(), y->get(), out.size() * 2, cudaMemcpyDeviceToHost) ==
                cudaSuccess);
    return out;
  };
  const std::vector<uint16_t> want = run(*big, *w_big);
  for (uint16_t v : want) ASSERT_NE(v, 0xFFFF) << "every output written";
  run(*small, *w_small);  // its partials cover the big plan's counters
  EXPECT_EQ(run(*big, *w_big), want);
  // An aborted launch leaves counters counted up: what a block that arrived and then died does.
  ASSERT_TRUE(cudaMemset(workspace.data(), 0x01, big->counters_bytes) == cudaSuccess);
  workspace.MarkCountersUnknown();
  EXPECT_EQ(run(*big, *w_big), want);
}

TEST(KernelBenchJob, ListsCudaDevices) {
  SKIP_WITHOUT_GPU();
  const std::vector<DeviceInfo> devices = CudaDevices(nullptr);
  ASSERT_FALSE(devices.empty());
  EXPECT_EQ(devices[0].device_class, 2);
  EXPECT_EQ(devices[0].name, "cuda:0");
  EXPECT_GT(devices[0].memory_bytes, 0u);
  EXPECT_GT(devices[0].cores, 0);
  EXPECT_NE(devices[0].compute_capability.find('.'), std::string::npos);
}

TEST(KernelBenchJob, ProducesTheDocumentedMetrics) {
  SKIP_WITHOUT_GPU();
  JobContext ctx;
  const auto out = RunKernelBenchJob({"razer_w4", 2048, 2048, 2, 20, 0}, ctx);
  ASSERT_TRUE(out.ok()) << out.status().ToString();
  std::set<std::string> names;
  for (const Metric& m : out->metrics) names.insert(m.name);
  for (const char* name :
       {"median_us", "effective_gbps", "read_bw_gbps", "pct_of_read_bw", "pct_of_copy_bw",
        "speedup_vs_cublas_fp16", "max_rel_err", "launches_per_sample", "warmup_ms",
        "launch_threads", "launch_blocks", "launch_blocks_per_sm", "launch_waves"}) {
    EXPECT_TRUE(names.count(name)) << name;
  }
  ASSERT_EQ(out->artifacts.size(), 1u);
  EXPECT_NE(out->artifacts[0].bytes.find("\"variant\""), std::string::npos);
  EXPECT_DOUBLE_EQ(ctx.progress(), 1.0);
}

#endif  // QLAB_KERNELS_HAVE_CUDA

}  // namespace
}  // namespace qlab::kernels
