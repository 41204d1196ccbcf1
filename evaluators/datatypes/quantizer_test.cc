// Group quantizer: round trips on every code of every datatype, hand-worked examples (ties,
// clipping, scale rounding to FP16), clip search, whole-tensor helpers and bad input.
#include "evaluators/datatypes/quantizer.h"

#include <cmath>
#include <vector>

#include <gtest/gtest.h>

#include "evaluators/datatypes/minifloat.h"
#include "evaluators/datatypes/synthetic.h"

namespace qlab::datatypes {
namespace {

struct Encoded {
  std::vector<uint16_t> codes;
  GroupParams params;
  std::vector<float> decoded;
};

Encoded EncodeOne(Datatype type, const std::vector<float>& x,
                  ScaleSearch search = ScaleSearch::kNone) {
  QuantizerOptions options;
  options.scale_search = search;
  Quantizer q = Quantizer::Create(type, options).value();
  Encoded e;
  e.codes.resize(x.size());
  e.decoded.resize(x.size());
  q.EncodeGroup(x.data(), x.size(), 1.0f, e.codes.data(), &e.params);
  q.DecodeGroup(e.codes.data(), x.size(), e.params, 1.0f, e.decoded.data());
  return e;
}

// A group holding every non-redundant code of selector `sel` at scale 2^-3 (and zero point 3 for
// asymmetric INT) must encode back to exactly those codes and that scale.
TEST(Quantizer, EveryCodeOfEveryDatatypeRoundTrips) {
  constexpr float kScale = 0.125f;
  for (int i = 0; i < kNumDatatypes; ++i) {
    const Datatype type = static_cast<Datatype>(i);
    const DatatypeTraits& traits = GetTraits(type);
    Quantizer q = Quantizer::Create(type, {}).value();
    const int num_selectors = std::max(1, traits.num_codebooks);
    for (int sel = 0; sel < num_selectors; ++sel) {
      // The OCP shared exponent of a group whose absmax is an SV of 8 is one higher than that of
      // the 6-based grid, so MXFP4-RaZeR reaches +-8 only for |x| in (7, 8) * 2^e (see
      // Mxfp4RazerUsesSvAboveSix); the exact value 8 * 2^e cannot round-trip.
      if (traits.scale_format == ScaleFormat::kE8M0 && std::fabs(q.CodeValue(0x8, sel)) == 8) {
        continue;
      }
      std::vector<uint16_t> codes;
      for (uint32_t c = 0; c < q.NumCodes(); ++c) {
        if (!q.IsRedundantCode(c, sel)) codes.push_back(static_cast<uint16_t>(c));
      }
      GroupParams params;
      params.scale = kScale;
      params.selector = static_cast<uint8_t>(sel);
      params.zero = traits.family == Family::kIntAsym ? 3 : 0;
      std::vector<float> x(codes.size());
      q.DecodeGroup(codes.data(), codes.size(), params, 1.0f, x.data());
      std::vector<uint16_t> again(codes.size());
      GroupParams p2;
      q.EncodeGroup(x.data(), x.size(), 1.0f, again.data(), &p2);
      EXPECT_EQ(again, codes) << traits.name << " selector " << sel;
      EXPECT_EQ(p2.scale, traits.family == Family::kPassthrough ? 1.0f : kScale) << traits.name;
      EXPECT_EQ(p2.selector, sel) << traits.name;
      EXPECT_EQ(p2.zero, params.zero) << traits.name;
      std::vector<float> y(codes.size());
      q.DecodeGroup(again.data(), again.size(), p2, 1.0f, y.data());
      EXPECT_EQ(y, x) << traits.name;
    }
  }
}

TEST(Quantizer, Int4SymRoundsHalfToEven) {
  // absmax 7 -> scale 7/7 = 1 (exact in FP16).
  const Encoded e = EncodeOne(Datatype::kInt4Sym, {7, 3.5f, 2.5f, -2.5f, 0.5f, -0.5f, 1.5f, -7});
  EXPECT_EQ(e.params.scale, 1.0f);
  EXPECT_EQ(e.params.scale_bits, 0x3C00);
  EXPECT_EQ(e.decoded, (std::vector<float>{7, 4, 2, -2, 0, -0.0f, 2, -7}));
  EXPECT_EQ(e.codes[3], 0xE);  // -2 in 4-bit two's complement
  EXPECT_EQ(e.codes[7], 0x9);  // -7
}

TEST(Quantizer, Int4AsymFollowsAwqWithFp16Scale) {
  // min -1, max 2: scale = 3/15 = 0.2 -> FP16 0x3266 = 0.199951171875, rounded *before* the
  // zero point and the elements: zero = -rne(-1/0.19995) = 5; 0.5/0.19995 = 2.5006 -> 3 (+5).
  const Encoded e = EncodeOne(Datatype::kInt4Asym, {-1, 0, 0.5f, 2});
  EXPECT_EQ(e.params.scale_bits, 0x3266);
  EXPECT_EQ(e.params.scale, 0.199951171875f);
  EXPECT_EQ(e.params.zero, 5);
  EXPECT_EQ(e.codes, (std::vector<uint16_t>{0, 5, 8, 15}));
  EXPECT_FLOAT_EQ(e.decoded[0], -5 * 0.199951171875f);
  EXPECT_FLOAT_EQ(e.decoded[3], 10 * 0.199951171875f);
}

TEST(Quantizer, IntAsymTiesAndPositiveOnlyGroup) {
  // min 0, max 15 -> scale 1, zero 0: 2.5 -> 2, 3.5 -> 4 (half to even).
  const Encoded e = EncodeOne(Datatype::kInt4Asym, {0, 2.5f, 3.5f, 15});
  EXPECT_EQ(e.codes, (std::vector<uint16_t>{0, 2, 4, 15}));
  // All positive: AWQ keeps [min, max] (0 not forced in) and clamps the zero point to 0.
  const Encoded p = EncodeOne(Datatype::kInt4Asym, {10, 11, 25});
  EXPECT_EQ(p.params.zero, 0);
  EXPECT_EQ(p.params.scale, RoundToFp16(15.0f / 15.0f));
  EXPECT_EQ(p.codes, (std::vector<uint16_t>{10, 11, 15}));  // 25 clips to 15
}

TEST(Quantizer, E2M1TiesGoToSmallerMagnitude) {
  // absmax 6 -> scale 1.
  const Encoded e = EncodeOne(Datatype::kE2M1, {6, 2.5f, -2.5f, 5, -5, 0.25f, 0.75f, 1.25f, 3.5f});
  EXPECT_EQ(e.params.scale, 1.0f);
  EXPECT_EQ(e.decoded, (std::vector<float>{6, 2, -2, 4, -4, 0, 0.5f, 1, 3}));
  EXPECT_EQ(e.codes, (std::vector<uint16_t>{0x7, 0x4, 0xC, 0x6, 0xE, 0x0, 0x1, 0x2, 0x5}));
}

TEST(Quantizer, E2M1ScaleIsRoundedToFp16BeforeElements) {
  // absmax 1 -> scale 1/6 -> FP16 0.1666259765625. The element 2.5/6 sits exactly on the 2/3
  // tie with the exact scale (it would go to 2) but 2.5006 with the FP16 scale, so it goes to 3.
  const Encoded e = EncodeOne(Datatype::kE2M1, {1.0f, 2.5f / 6.0f, -1.0f / 12.0f});
  EXPECT_EQ(e.params.scale_bits, FloatToFp16Bits(1.0f / 6.0f));
  EXPECT_EQ(e.params.scale, 0.1666259765625f);
  EXPECT_EQ(e.codes[0], 0x7);
  EXPECT_EQ(e.codes[1], 0x5);  // 3
  EXPECT_EQ(e.codes[2], 0x9);  // -0.5
  EXPECT_FLOAT_EQ(e.decoded[0], 6 * 0.1666259765625f);
}

TEST(Quantizer, Nf4NearestValue) {
  const Encoded e = EncodeOne(Datatype::kNf4, {1.0f, -1.0f, 0.0f, 0.5f, 0.03f, 0.05f, -0.6f});
  EXPECT_EQ(e.params.scale, 1.0f);
  // 0.5: |0.5-0.4407| = 0.0593 < |0.5-0.5626| = 0.0626 -> code 12; 0.03 -> 0 (7); 0.05 -> 8;
  // -0.6: nearer -0.5251 (0.0749) than -0.6962 (0.0962) -> code 2.
  EXPECT_EQ(e.codes, (std::vector<uint16_t>{15, 0, 7, 12, 7, 8, 2}));
}

TEST(Quantizer, RazerFp4PicksTheSpecialValueWithLeastError) {
  // absmax 6 with a 5 in the group: grid +5 (selector 0) at scale 1 is exact.
  Encoded e = EncodeOne(Datatype::kRazerFp4, {6, 5, -1, 0.5f});
  EXPECT_EQ(e.params.selector, 0);
  EXPECT_EQ(e.params.scale, 1.0f);
  EXPECT_EQ(e.codes[1], 0x8);
  // 8 and -6: grid +8 (selector 1), scale 8/8 = 1.
  e = EncodeOne(Datatype::kRazerFp4, {8, -6, 1});
  EXPECT_EQ(e.params.selector, 1);
  EXPECT_EQ(e.codes, (std::vector<uint16_t>{0x8, 0xF, 0x2}));
  // -8 and 6: selector 3; -5 and 6: selector 2.
  EXPECT_EQ(EncodeOne(Datatype::kRazerFp4, {-8, 6, 1}).params.selector, 3);
  EXPECT_EQ(EncodeOne(Datatype::kRazerFp4, {-5, 6, 1}).params.selector, 2);
  // Ties between grids go to the earliest selector: an all-zero group keeps selector 0.
  EXPECT_EQ(EncodeOne(Datatype::kRazerFp4, {0, 0, 0}).params.selector, 0);
  // Ties inside a grid go to the smaller magnitude: 4.5 between 4 and 5 -> 4 (grid +5, squared
  // error 0.25, against 0.266 for grid +8 at scale 0.75).
  e = EncodeOne(Datatype::kRazerFp4, {6, 5, 4.5f, 1});
  EXPECT_EQ(e.params.selector, 0);
  EXPECT_EQ(e.decoded[2], 4.0f);
  // ... and grid +8 wins where -5 would cost a full unit in grid +5 (-5 -> -4).
  EXPECT_EQ(EncodeOne(Datatype::kRazerFp4, {6, 5, 4.5f, -5}).params.selector, 1);
}

TEST(Quantizer, Mxfp4SharedExponentClipsAndRoundsAway) {
  // absmax 6.5: floor(log2 6.5) - 2 = 0 -> scale 1 (E8M0 127). 6.5 clips to 6, ties go away
  // from zero: 2.5 -> 3, 5 -> 6, -2.5 -> -3, 0.25 -> 0.5, 0.75 -> 1.
  Encoded e = EncodeOne(Datatype::kMxfp4, {6.5f, 2.5f, 5, -2.5f, 0.25f, 0.75f});
  EXPECT_EQ(e.params.scale, 1.0f);
  EXPECT_EQ(e.params.scale_bits, 127);
  EXPECT_EQ(e.decoded, (std::vector<float>{6, 3, 6, -3, 0.5f, 1}));
  // absmax 7.9 still has exponent 2: clipped to 6 (the OCP rule's known clipping).
  e = EncodeOne(Datatype::kMxfp4, {7.9f, 1});
  EXPECT_EQ(e.params.scale, 1.0f);
  EXPECT_EQ(e.decoded[0], 6.0f);
  // absmax 8 -> scale 2; absmax 0 -> 2^-127.
  EXPECT_EQ(EncodeOne(Datatype::kMxfp4, {8, 1}).params.scale, 2.0f);
  EXPECT_EQ(EncodeOne(Datatype::kMxfp4, {0, 0}).params.scale_bits, 0);
}

TEST(Quantizer, Nvfp4UsesTensorScaleAndE4M3BlockScale) {
  Quantizer q = Quantizer::Create(Datatype::kNvfp4, {}).value();
  EXPECT_EQ(q.TensorScale(2688.0f), 1.0f);
  EXPECT_EQ(q.TensorScale(0.0f), 1.0f);
  const float ts = q.TensorScale(100.0f);  // 100 / 2688
  EXPECT_EQ(ts, 100.0f / 2688.0f);
  // Block absmax 1: raw scale (1/6)/ts = 4.48 -> E4M3 4.5 (0x49 = 2^2 * 1.125).
  std::vector<float> x = {1.0f, -0.5f, 0.25f};
  std::vector<uint16_t> codes(3);
  GroupParams p;
  q.EncodeGroup(x.data(), 3, ts, codes.data(), &p);
  EXPECT_EQ(p.scale_bits, 0x49);
  EXPECT_EQ(p.scale, 4.5f);
  std::vector<float> d(3);
  q.DecodeGroup(codes.data(), 3, p, ts, d.data());
  // 1 / (4.5 * ts) = 5.97 -> 6; 0.5 / (4.5 ts) = 2.99 -> 3; 0.25 -> 1.49 -> 1.5.
  EXPECT_EQ(codes, (std::vector<uint16_t>{0x7, 0xD, 0x3}));
  EXPECT_EQ(d[0], (6.0f * 4.5f) * ts);
}

TEST(Quantizer, SupernormalVariants) {
  // e2m1_sr: scale = absmax/8; the negative side saturates at -6.
  Encoded e = EncodeOne(Datatype::kE2M1Sr, {8, -7, 7, 5});
  EXPECT_EQ(e.params.scale, 1.0f);
  EXPECT_EQ(e.decoded, (std::vector<float>{8, -6, 6, 4}));  // 7: tie 6|8 -> 6; 5: tie 4|6 -> 4
  EXPECT_EQ(e.codes[0], 0x8);
  // e2m1_sp: +5 exists, -5 does not.
  e = EncodeOne(Datatype::kE2M1Sp, {6, 5, -5, 4.5f});
  EXPECT_EQ(e.decoded, (std::vector<float>{6, 5, -4, 4}));
  // apot4_sp: +0.5 on the -0 code, scale = absmax.
  e = EncodeOne(Datatype::kApot4Sp, {1, 0.5f, -0.5f, 0.05f});
  EXPECT_EQ(e.codes[1], 0x8);
  EXPECT_FLOAT_EQ(e.decoded[2], -0.4f);  // tie -0.4|-0.6 -> -0.4
  EXPECT_FLOAT_EQ(e.decoded[3], 0.0f);   // tie 0|0.1 -> 0
}

TEST(Quantizer, Fp8ElementsWithFp16Scale) {
  // absmax 448 -> scale 1; 1.0625 is the tie between 1 and 1.125 -> 1 (even); tiny values go
  // subnormal (2^-9 steps).
  Encoded e = EncodeOne(Datatype::kFp8E4M3, {448, 1.0625f, -3 * std::ldexp(1.0f, -10), 300});
  EXPECT_EQ(e.params.scale, 1.0f);
  EXPECT_EQ(e.codes, (std::vector<uint16_t>{0x7E, 0x38, 0x82, 0x79}));  // 300 -> 288
  EXPECT_EQ(e.decoded[3], 288.0f);
  // E5M2: absmax 57344 -> scale 1; 1.125 is the tie between 1 and 1.25 -> 1.
  e = EncodeOne(Datatype::kFp8E5M2, {57344, 1.125f, 1.375f});
  EXPECT_EQ(e.decoded, (std::vector<float>{57344, 1, 1.5f}));
  // Scale rounding: absmax 1 -> 1/448 -> FP16 0x1C92.
  e = EncodeOne(Datatype::kFp8E4M3, {1.0f});
  EXPECT_EQ(e.params.scale_bits, FloatToFp16Bits(1.0f / 448));
}

TEST(Quantizer, PassthroughFormats) {
  Encoded e = EncodeOne(Datatype::kFp16, {1.0f, 0.1f, 70000.0f, 1e-8f});
  EXPECT_EQ(e.codes, (std::vector<uint16_t>{0x3C00, 0x2E66, 0x7C00, 0x0000}));
  e = EncodeOne(Datatype::kBf16, {1.0f, 0.1f, 1.00390625f});
  EXPECT_EQ(e.codes, (std::vector<uint16_t>{0x3F80, 0x3DCD, 0x3F80}));
  Quantizer q = Quantizer::Create(Datatype::kFp16, {}).value();
  EXPECT_EQ(q.GroupSizeFor(100).value(), 100);  // no groups, any row length
}

TEST(Quantizer, Nvfp4RazerPicksSvInsideE3M3Scale) {
  Quantizer q = Quantizer::Create(Datatype::kNvfp4Razer, {}).value();
  EXPECT_EQ(q.TensorScale(168.0f), 1.0f);
  // {8, 1, -2} at tensor scale 1: grid +8 with E3M3 scale 1.0 (0x18) is exact; grid +5 would
  // need 8/6 -> E3M3 1.375. SV sentinel is nibble 0x0, zero is 0x8.
  std::vector<float> x = {8, 1, -2, 0};
  std::vector<uint16_t> codes(4);
  GroupParams p;
  q.EncodeGroup(x.data(), 4, 1.0f, codes.data(), &p);
  EXPECT_EQ(p.selector, 1);
  EXPECT_EQ(p.scale_bits, 0x18);
  EXPECT_EQ(codes, (std::vector<uint16_t>{0x0, 0x2, 0xC, 0x8}));
}

TEST(Quantizer, Mxfp4RazerUsesSvAboveSix) {
  // absmax 7.9 keeps exponent 2 (scale 1); plain MXFP4 clips 7.9 to 6, the +8 grid keeps it.
  Encoded e = EncodeOne(Datatype::kMxfp4Razer, {7.9f, 1, -1});
  EXPECT_EQ(e.params.scale, 1.0f);
  EXPECT_EQ(e.params.selector, 1);  // +8
  EXPECT_EQ(e.decoded[0], 8.0f);
}

TEST(Quantizer, BitmodClampsTinyScales) {
  // BitMoD clamps the scale to >= 1e-5 before FP16 rounding: a group of 1e-7 decodes to 0, not
  // to a subnormal-scale grid value.
  Encoded e = EncodeOne(Datatype::kBitmodFp4, {1e-7f, -1e-7f});
  EXPECT_EQ(e.params.scale, RoundToFp16(1e-5f));
  EXPECT_EQ(e.decoded, (std::vector<float>{0, 0}));
  Encoded r = EncodeOne(Datatype::kRazerFp4, {1e-7f, -1e-7f});
  EXPECT_EQ(r.params.scale, 0.0f);  // 1e-7/6 underflows FP16
}

TEST(Quantizer, Sf4NuChangesTheGrid) {
  QuantizerOptions o;
  o.sf4_nu = 3;
  Quantizer q3 = Quantizer::Create(Datatype::kSf4, o).value();
  Quantizer q5 = Quantizer::Create(Datatype::kSf4, {}).value();
  EXPECT_EQ(q3.CodeValue(15), 1.0f);
  EXPECT_EQ(q3.CodeValue(0), -1.0f);
  EXPECT_LT(q3.CodeValue(14), q5.CodeValue(14));  // heavier tails: inner values shrink
  o.sf4_nu = 0;
  EXPECT_EQ(Quantizer::Create(Datatype::kSf4, o).status().code(), StatusCode::kInvalidArgument);
}

TEST(Quantizer, AllZeroGroupDecodesToZero) {
  for (int i = 0; i < kNumDatatypes; ++i) {
    const Datatype t = static_cast<Datatype>(i);
    const Encoded e = EncodeOne(t, std::vector<float>(32, 0.0f));
    for (float v : e.decoded) EXPECT_EQ(v, 0.0f) << GetTraits(t).name;
  }
}

TEST(Quantizer, HugeValuesSaturateTheFp16Scale) {
  const Encoded e = EncodeOne(Datatype::kE2M1, {1e9f, -1e9f, 0});
  EXPECT_EQ(e.params.scale, kFp16Max);
  EXPECT_EQ(e.codes[0], 0x7);  // clipped at 6 * 65504
  EXPECT_EQ(e.codes[1], 0xF);
}

TEST(Quantizer, MseSearchClipsHeavyTailsAndNeverIncreasesError) {
  // Heavy tails (Student-t, nu = 2): clipping the few large values pays for itself.
  SyntheticSpec spec;
  spec.distribution = Distribution::kStudentT;
  spec.nu = 2;
  spec.rows = 1;
  spec.cols = 128;
  spec.seed = 11;
  const std::vector<float> x = GenerateSynthetic(spec).value();
  for (Datatype t : {Datatype::kInt4Asym, Datatype::kInt4Sym, Datatype::kE2M1, Datatype::kNf4,
                     Datatype::kInt3Asym}) {
    const Encoded plain = EncodeOne(t, x, ScaleSearch::kNone);
    const Encoded searched = EncodeOne(t, x, ScaleSearch::kMse);
    double e_plain = 0, e_searched = 0;
    for (int i = 0; i < 128; ++i) {
      e_plain += std::pow(x[i] - plain.decoded[i], 2);
      e_searched += std::pow(x[i] - searched.decoded[i], 2);
    }
    EXPECT_LE(e_searched, e_plain) << GetTraits(t).name;
    EXPECT_LT(searched.params.scale, plain.params.scale) << GetTraits(t).name;
  }
  // The candidate grid.
  EXPECT_EQ(ClipRatio(0), 1.0f);
  EXPECT_FLOAT_EQ(ClipRatio(kNumClipRatios - 1), 0.5f);
}

TEST(Quantizer, GroupSizeRules) {
  QuantizerOptions o;
  Quantizer def = Quantizer::Create(Datatype::kInt4Asym, o).value();
  EXPECT_EQ(def.GroupSizeFor(4096).value(), 128);
  EXPECT_EQ(def.GroupSizeFor(100).status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(def.GroupSizeFor(0).status().code(), StatusCode::kInvalidArgument);
  o.group_size = 0;
  EXPECT_EQ(Quantizer::Create(Datatype::kInt4Asym, o).value().GroupSizeFor(100).value(), 100);
  o.group_size = 32;
  EXPECT_EQ(Quantizer::Create(Datatype::kInt4Asym, o).value().GroupSizeFor(96).value(), 32);
  o.group_size = -5;
  EXPECT_EQ(Quantizer::Create(Datatype::kInt4Asym, o).status().code(),
            StatusCode::kInvalidArgument);
}

TEST(Quantizer, TensorHelpersAgreeWithGroupsAndIgnoreThreadCount) {
  const int64_t rows = 37, cols = 256;
  std::vector<float> w(rows * cols);
  for (size_t i = 0; i < w.size(); ++i) w[i] = std::sin(0.001f * i * i) * (1 + i % 7);
  for (Datatype t : {Datatype::kInt4Asym, Datatype::kE2M1, Datatype::kNf4}) {
    Quantizer q = Quantizer::Create(t, {}).value();
    QuantizedTensor a = QuantizeTensor(q, w.data(), rows, cols, 1).value();
    QuantizedTensor b = QuantizeTensor(q, w.data(), rows, cols, 4).value();
    EXPECT_EQ(a.codes, b.codes);
    ASSERT_EQ(a.groups.size(), static_cast<size_t>(rows * 2));
    std::vector<float> da = DequantizeTensor(q, a, 1), db = DequantizeTensor(q, b, 3);
    EXPECT_EQ(da, db);
    // Row 5, group 1 by hand.
    std::vector<uint16_t> codes(128);
    GroupParams p;
    q.EncodeGroup(&w[5 * cols + 128], 128, 1.0f, codes.data(), &p);
    EXPECT_EQ(p.scale, a.groups[5 * 2 + 1].scale);
    EXPECT_TRUE(std::equal(codes.begin(), codes.end(), a.codes.begin() + 5 * cols + 128));
  }
}

TEST(Quantizer, TensorRejectsBadInput) {
  Quantizer q = Quantizer::Create(Datatype::kE2M1, {}).value();
  std::vector<float> w(256, 1.0f);
  w[3] = std::nanf("");
  w[7] = INFINITY;
  w[9] = -INFINITY;
  Status s = QuantizeTensor(q, w.data(), 2, 128).status();
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(s.message().find("1 NaN and 2 Inf"), std::string::npos) << s.message();
  EXPECT_EQ(QuantizeTensor(q, w.data(), 0, 128).status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(QuantizeTensor(q, w.data(), 2, 100).status().code(), StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace qlab::datatypes
