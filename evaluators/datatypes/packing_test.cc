// Packed kernel formats: Dequantize(Pack(w)) must equal the quantize job's fake-quantised
// weights bit for bit, and hand-placed values must land at the documented bit positions.
#include "evaluators/datatypes/packing.h"

#include <cmath>
#include <vector>

#include <gtest/gtest.h>

#include "evaluators/datatypes/quantizer.h"
#include "evaluators/datatypes/synthetic.h"

namespace qlab::datatypes {
namespace {

std::vector<float> Weights(int64_t n, int64_t k, uint64_t seed) {
  SyntheticSpec spec;
  spec.distribution = Distribution::kStudentT;
  spec.rows = n;
  spec.cols = k;
  spec.seed = seed;
  return GenerateSynthetic(spec).value();
}

std::vector<float> FakeQuant(Datatype type, const std::vector<float>& w, int64_t n, int64_t k) {
  Quantizer q = Quantizer::Create(type, {}).value();
  return DequantizeTensor(q, QuantizeTensor(q, w.data(), n, k).value());
}

// k = 384 (3 groups of 128: part of one selector / zero word) and k = 2560 (20 groups: two
// selector words, three zero words).
class PackShapes : public ::testing::TestWithParam<int64_t> {};

TEST_P(PackShapes, DequantizeEqualsFakeQuant) {
  const int64_t n = 5, k = GetParam();
  const std::vector<float> w = Weights(n, k, 3 + k);
  {
    PackedRazerW4 p = PackRazerW4(w.data(), n, k).value();
    EXPECT_EQ(p.qweight.size(), static_cast<size_t>(n * k / 8));
    EXPECT_EQ(p.scales_fp16.size(), static_cast<size_t>(n * k / 128));
    EXPECT_EQ(p.selectors.size(), static_cast<size_t>(n * ((k / 128 + 15) / 16)));
    EXPECT_EQ(Dequantize(p), FakeQuant(Datatype::kRazerFp4, w, n, k));
  }
  {
    PackedInt4Asym p = PackInt4Asym(w.data(), n, k).value();
    EXPECT_EQ(p.zeros.size(), static_cast<size_t>(n * ((k / 128 + 7) / 8)));
    EXPECT_EQ(Dequantize(p), FakeQuant(Datatype::kInt4Asym, w, n, k));
  }
  {
    PackedNvfp4 p = PackNvfp4(w.data(), n, k).value();
    EXPECT_EQ(p.block_scales.size(), static_cast<size_t>(n * k / 16));
    EXPECT_EQ(Dequantize(p), FakeQuant(Datatype::kNvfp4, w, n, k));
  }
  {
    PackedMxfp4 p = PackMxfp4(w.data(), n, k).value();
    EXPECT_EQ(p.scales_e8m0.size(), static_cast<size_t>(n * k / 32));
    EXPECT_EQ(Dequantize(p), FakeQuant(Datatype::kMxfp4, w, n, k));
  }
  {
    PackedInt8Asym p = PackInt8Asym(w.data(), n, k).value();
    EXPECT_EQ(p.qweight.size(), static_cast<size_t>(n * k));
    EXPECT_EQ(p.zeros.size(), static_cast<size_t>(n * k / 128));
    EXPECT_EQ(Dequantize(p), FakeQuant(Datatype::kInt8Asym, w, n, k));
  }
  {
    PackedE2m1 p = PackE2m1(w.data(), n, k).value();
    EXPECT_EQ(p.scales_fp16.size(), static_cast<size_t>(n * k / 128));
    EXPECT_EQ(Dequantize(p), FakeQuant(Datatype::kE2M1, w, n, k));
  }
}

INSTANTIATE_TEST_SUITE_P(Packing, PackShapes, ::testing::Values(384, 2560));

TEST(Packing, RazerLayoutByHand) {
  // Row 1, group 17 of k = 18 * 128 holds the E2M1 grid times 0.25 plus +8 * 0.25: the group
  // must pick selector 1 (+8) with scale 0.25, and element 11 of the group (-1.5 * 0.25) must be
  // nibble 0xB at bits 4*(c%8) of word c/8.
  const int64_t n = 2, k = 18 * 128, c0 = 17 * 128;
  std::vector<float> w(n * k, 0.0f);
  const float kGrid[16] = {0, 0.5f, 1, 1.5f, 2, 3, 4, 6, 8, -0.5f, -1, -1.5f, -2, -3, -4, -6};
  for (int i = 0; i < 128; ++i) w[k + c0 + i] = kGrid[i % 16] * 0.25f;
  PackedRazerW4 p = PackRazerW4(w.data(), n, k).value();
  const int64_t sel_words = 2;
  EXPECT_EQ((p.selectors[1 * sel_words + 1] >> (2 * 1)) & 3u, 1u);
  EXPECT_EQ(p.scales_fp16[1 * 18 + 17], 0x3400);  // 0.25
  const int64_t c = c0 + 11;
  EXPECT_EQ((p.qweight[1 * (k / 8) + c / 8] >> (4 * (c % 8))) & 0xFu, 0xBu);
  EXPECT_EQ((p.qweight[1 * (k / 8) + (c0 + 8) / 8] >> (4 * ((c0 + 8) % 8))) & 0xFu, 0x8u);  // SV
  EXPECT_EQ(Dequantize(p)[k + c0 + 8], 2.0f);
  // An all-zero group: scale 0, selector 0, codes 0.
  EXPECT_EQ(p.scales_fp16[0], 0);
  EXPECT_EQ(p.qweight[0], 0u);
}

TEST(Packing, Int4AsymZeroPointPosition) {
  // Group 10 of row 0 (k = 16 * 128): values 0..15 shifted by -3 -> scale 1, zero 3, stored at
  // bits 4*(10%8) of zero word 10/8.
  const int64_t k = 16 * 128;
  std::vector<float> w(k, 0.0f);
  for (int i = 0; i < 128; ++i) w[10 * 128 + i] = static_cast<float>(i % 16) - 3;
  PackedInt4Asym p = PackInt4Asym(w.data(), 1, k).value();
  EXPECT_EQ((p.zeros[1] >> 8) & 0xFu, 3u);
  EXPECT_EQ(p.scales_fp16[10], 0x3C00);
  EXPECT_EQ(p.qweight[10 * 16] & 0xFu, 0u);        // element 0 of the group: -3 -> q 0
  EXPECT_EQ((p.qweight[10 * 16] >> 4) & 0xFu, 1u);  // element 1: -2 -> q 1
  EXPECT_EQ(Dequantize(p)[10 * 128 + 15], 12.0f);
}

TEST(Packing, Nvfp4ScalesByHand) {
  // absmax 2688 -> tensor scale 1; block 0 absmax 2688 -> E4M3 448 (0x7E); block 1 all zero ->
  // scale 1.0 (0x38); block 2 absmax 3 -> 0.5 (0x30).
  std::vector<float> w(48, 0.0f);
  w[0] = 2688;
  w[1] = 2.5f * 448;  // tie between 2 and 3: even mantissa -> 2 (code 0x4)
  w[32] = -3;
  PackedNvfp4 p = PackNvfp4(w.data(), 1, 48).value();
  EXPECT_EQ(p.tensor_scale, 1.0f);
  EXPECT_EQ(p.block_scales, (std::vector<uint8_t>{0x7E, 0x38, 0x30}));
  EXPECT_EQ(p.qweight[0] & 0xFFu, 0x47u);  // element 0 -> 0x7 (6), element 1 -> 0x4 (2)
  EXPECT_EQ(p.qweight[4] & 0xFu, 0xFu);    // element 32: -3 / 0.5 = -6
  const std::vector<float> d = Dequantize(p);
  EXPECT_EQ(d[1], 2 * 448.0f);
  EXPECT_EQ(d[32], -3.0f);
}

TEST(Packing, BadShapesAndValues) {
  std::vector<float> w(4 * 256, 1.0f);
  EXPECT_EQ(PackRazerW4(w.data(), 4, 200).status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(PackInt4Asym(w.data(), 0, 256).status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(PackNvfp4(w.data(), 4, 24).status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(PackMxfp4(w.data(), 4, 48).status().code(), StatusCode::kInvalidArgument);
  w[5] = NAN;
  EXPECT_EQ(PackRazerW4(w.data(), 4, 256).status().code(), StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace qlab::datatypes
