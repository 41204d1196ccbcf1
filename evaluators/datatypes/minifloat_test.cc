// Exhaustive and hand-worked checks of the small-float conversions against the generic
// double-precision reference (RoundToMiniFloat / MiniFloatBits / MiniFloatValue).
#include "evaluators/datatypes/minifloat.h"

#include <cmath>
#include <cstring>
#include <limits>

#include <gtest/gtest.h>

namespace qlab::datatypes {
namespace {

float FromBits(uint32_t b) { return std::bit_cast<float>(b); }

TEST(Fp16, EveryCodeDecodesLikeReferenceAndRoundTrips) {
  for (uint32_t h = 0; h < 65536; ++h) {
    const float v = Fp16BitsToFloat(static_cast<uint16_t>(h));
    const double ref = MiniFloatValue(h, kFp16Format);
    if (std::isnan(ref)) {
      EXPECT_TRUE(std::isnan(v)) << h;
      continue;
    }
    EXPECT_EQ(static_cast<double>(v), ref) << h;
    EXPECT_EQ(FloatToFp16Bits(v), h) << h;
  }
}

TEST(Fp16, EncodeMatchesReferenceOnSampledFloats) {
  // Every 4099th float bit pattern (both signs, all exponents) plus every FP16 midpoint.
  for (uint64_t b = 0; b < (uint64_t{1} << 32); b += 4099) {
    const float x = FromBits(static_cast<uint32_t>(b));
    if (std::isnan(x)) continue;
    const double ref = RoundToMiniFloat(x, kFp16Format, /*saturate=*/false);
    ASSERT_EQ(FloatToFp16Bits(x), MiniFloatBits(ref, kFp16Format)) << x;
  }
  for (uint32_t h = 0; h < 0x7BFF; ++h) {
    const double mid = (Fp16BitsToFloat(h) + static_cast<double>(Fp16BitsToFloat(h + 1))) / 2;
    const float x = static_cast<float>(mid);  // exact: FP16 midpoints need 12 bits
    ASSERT_EQ(static_cast<double>(x), mid);
    const uint16_t even = (h & 1) ? h + 1 : h;
    ASSERT_EQ(FloatToFp16Bits(x), even) << "tie at " << mid;
  }
}

TEST(Fp16, HandWorked) {
  EXPECT_EQ(FloatToFp16Bits(1.0f), 0x3C00);
  EXPECT_EQ(FloatToFp16Bits(0.2f), 0x3266);             // 0.199951171875
  EXPECT_EQ(FloatToFp16Bits(65519.0f), 0x7BFF);         // below the midpoint: 65504
  EXPECT_EQ(FloatToFp16Bits(65520.0f), 0x7C00);         // midpoint to Inf: ties to even = Inf
  EXPECT_EQ(FloatToFp16Bits(std::ldexp(1.0f, -25)), 0);  // half the min subnormal: tie to 0
  EXPECT_EQ(FloatToFp16Bits(std::ldexp(3.0f, -26)), 1);  // 0.75 of the min subnormal: up
  EXPECT_EQ(FloatToFp16Bits(-0.0f), 0x8000);
  EXPECT_EQ(ScaleToFp16Bits(1e9f), 0x7BFF);  // scales saturate
  EXPECT_EQ(ScaleToFp16Bits(65520.0f), 0x7BFF);
}

TEST(Bf16, MatchesReference) {
  for (uint64_t b = 0; b < (uint64_t{1} << 32); b += 7919) {
    const float x = FromBits(static_cast<uint32_t>(b));
    if (std::isnan(x)) continue;
    const double ref = RoundToMiniFloat(x, kBf16Format, false);
    ASSERT_EQ(FloatToBf16Bits(x), MiniFloatBits(ref, kBf16Format)) << x;
  }
  for (uint32_t h = 0; h < 65536; ++h) {
    const float v = Bf16BitsToFloat(static_cast<uint16_t>(h));
    if (!std::isnan(v)) {
      EXPECT_EQ(FloatToBf16Bits(v), h);
    }
  }
  EXPECT_EQ(FloatToBf16Bits(1.00390625f), 0x3F80);  // 1 + 2^-8: tie to even (1.0)
  EXPECT_EQ(FloatToBf16Bits(1.01171875f), 0x3F82);  // 1 + 3*2^-8: tie to even (1 + 2^-6)
}

struct Fp8Case {
  const char* name;
  const MiniFloatFormat* format;
  uint8_t (*encode)(float);
  float (*decode)(uint8_t);
};

class Fp8Test : public ::testing::TestWithParam<Fp8Case> {};

TEST_P(Fp8Test, EveryCodeRoundTripsAndEncodeMatchesReference) {
  const Fp8Case& c = GetParam();
  for (uint32_t b = 0; b < 256; ++b) {
    const float v = c.decode(static_cast<uint8_t>(b));
    const double ref = MiniFloatValue(b, *c.format);
    if (std::isnan(ref)) {
      EXPECT_TRUE(std::isnan(v));
      continue;
    }
    EXPECT_EQ(static_cast<double>(v), ref) << b;
    if (std::isinf(v)) continue;  // E5M2 Inf saturates on the way back
    EXPECT_EQ(c.encode(v), b) << b;
  }
  for (uint64_t b = 0; b < (uint64_t{1} << 32); b += 6151) {
    const float x = FromBits(static_cast<uint32_t>(b));
    if (std::isnan(x)) continue;
    const double ref = RoundToMiniFloat(x, *c.format, /*saturate=*/true);
    ASSERT_EQ(c.encode(x), MiniFloatBits(ref, *c.format)) << x;
  }
}

INSTANTIATE_TEST_SUITE_P(
    Formats, Fp8Test,
    ::testing::Values(Fp8Case{"e4m3", &kE4M3Format, FloatToE4M3Bits, E4M3BitsToFloat},
                      Fp8Case{"e5m2", &kE5M2Format, FloatToE5M2Bits, E5M2BitsToFloat}),
    [](const auto& test_info) { return std::string(test_info.param.name); });

TEST(E4M3, HandWorked) {
  EXPECT_EQ(FloatToE4M3Bits(448.0f), 0x7E);
  EXPECT_EQ(FloatToE4M3Bits(464.0f), 0x7E);   // tie between 448 and (NaN) 480: saturate
  EXPECT_EQ(FloatToE4M3Bits(1e6f), 0x7E);
  EXPECT_EQ(FloatToE4M3Bits(-1e6f), 0xFE);
  EXPECT_EQ(FloatToE4M3Bits(std::ldexp(1.0f, -10)), 0x00);  // half the min subnormal: to 0
  EXPECT_EQ(FloatToE4M3Bits(std::ldexp(3.0f, -10)), 0x02);  // 1.5 quanta: to 2 (even)
  EXPECT_EQ(FloatToE4M3Bits(1.0625f), 0x38);  // 1 + 1/16: tie between 1 and 1.125 -> 1
  EXPECT_EQ(FloatToE4M3Bits(1.1875f), 0x3A);  // tie between 1.125 and 1.25 -> 1.25
  EXPECT_TRUE(std::isnan(E4M3BitsToFloat(0x7F)));
  EXPECT_EQ(E4M3BitsToFloat(0x01), std::ldexp(1.0f, -9));
}

TEST(E3M3, EveryPayloadAndRounding) {
  for (uint32_t b = 0; b < 64; ++b) {
    const float v = E3M3BitsToFloat(static_cast<uint8_t>(b));
    EXPECT_EQ(static_cast<double>(v), MiniFloatValue(b, kE3M3Format)) << b;
    EXPECT_EQ(FloatToE3M3Bits(v), b);
  }
  EXPECT_EQ(E3M3BitsToFloat(0x3F), 30.0f);
  EXPECT_EQ(E3M3BitsToFloat(0x01), 0.03125f);
  EXPECT_EQ(E3M3BitsToFloat(0x08), 0.25f);
  EXPECT_EQ(FloatToE3M3Bits(28.0f), 0x3E);
  EXPECT_EQ(FloatToE3M3Bits(100.0f), 0x3F);
  for (float x = 0; x < 40; x += 0.0078125f) {
    const double ref = RoundToMiniFloat(x, kE3M3Format, true);
    ASSERT_EQ(FloatToE3M3Bits(x), MiniFloatBits(ref, kE3M3Format)) << x;
  }
}

TEST(E2M1, CodesAndTiesToEvenMantissa) {
  const float kValues[8] = {0, 0.5f, 1, 1.5f, 2, 3, 4, 6};
  for (uint8_t c = 0; c < 16; ++c) {
    const float expect = (c & 8) ? -kValues[c & 7] : kValues[c & 7];
    EXPECT_EQ(E2M1BitsToFloat(c), expect);
    EXPECT_EQ(FloatToE2M1Bits(expect), c == 8 ? 8 : c);  // -0.0f keeps its sign bit
  }
  // Model-Optimizer's bounds: ties to the even mantissa.
  EXPECT_EQ(E2M1BitsToFloat(FloatToE2M1Bits(0.25f)), 0.0f);
  EXPECT_EQ(E2M1BitsToFloat(FloatToE2M1Bits(0.75f)), 1.0f);
  EXPECT_EQ(E2M1BitsToFloat(FloatToE2M1Bits(1.25f)), 1.0f);
  EXPECT_EQ(E2M1BitsToFloat(FloatToE2M1Bits(1.75f)), 2.0f);
  EXPECT_EQ(E2M1BitsToFloat(FloatToE2M1Bits(2.5f)), 2.0f);
  EXPECT_EQ(E2M1BitsToFloat(FloatToE2M1Bits(3.5f)), 4.0f);
  EXPECT_EQ(E2M1BitsToFloat(FloatToE2M1Bits(5.0f)), 4.0f);
  EXPECT_EQ(E2M1BitsToFloat(FloatToE2M1Bits(-5.0f)), -4.0f);
  EXPECT_EQ(E2M1BitsToFloat(FloatToE2M1Bits(7.0f)), 6.0f);
  for (float x = -8; x <= 8; x += 0.0625f) {
    const double ref = RoundToMiniFloat(x, kE2M1Format, true);
    ASSERT_EQ(static_cast<double>(E2M1BitsToFloat(FloatToE2M1Bits(x))), ref) << x;
  }
}

TEST(E8M0, Values) {
  EXPECT_EQ(E8M0BitsToFloat(127), 1.0f);
  EXPECT_EQ(E8M0BitsToFloat(130), 8.0f);
  EXPECT_EQ(E8M0BitsToFloat(0), std::ldexp(1.0f, -127));
  EXPECT_TRUE(std::isnan(E8M0BitsToFloat(0xFF)));
}

}  // namespace
}  // namespace qlab::datatypes
