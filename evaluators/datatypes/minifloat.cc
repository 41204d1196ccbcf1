// Exact float <-> small-float conversions (see minifloat.h). The fast paths work on the float's
// bits; the generic double-precision path is the slow reference the tests compare them with.
#include "evaluators/datatypes/minifloat.h"

#include <cmath>
#include <limits>

namespace qlab::datatypes {
namespace {

// Rounds the 23-bit mantissa of a normal float `bits` to `man_bits` bits (RNE) and returns
// (biased exponent << man_bits) + rounded mantissa; a mantissa carry bumps the exponent, which is
// exactly what the addition does.
inline uint32_t RoundNormal(uint32_t bits, int man_bits, int bias) {
  const int shift = 23 - man_bits;
  const uint32_t mant = bits & 0x7FFFFFu;
  const int exp = static_cast<int>(bits >> 23) - 127;
  const uint32_t rounded = mant + ((1u << (shift - 1)) - 1u) + ((mant >> shift) & 1u);
  return (static_cast<uint32_t>(exp + bias) << man_bits) + (rounded >> shift);
}

}  // namespace

uint16_t ScaleToFp16Bits(float scale) {
  if (!(scale < kFp16Max)) return 0x7BFF;  // saturate (NaN cannot reach here: callers reject it)
  return FloatToFp16Bits(scale);
}

uint8_t FloatToE4M3Bits(float x) {
  if (std::isnan(x)) return 0x7F;
  const uint8_t sign = std::signbit(x) ? 0x80 : 0x00;
  const float a = std::fabs(x);
  if (a >= kE4M3Max) return sign | 0x7E;
  if (a < 0.015625f) {  // below the smallest normal 2^-6: quantum 2^-9; m == 8 is 2^-6 itself
    return sign | static_cast<uint8_t>(std::nearbyint(a * 512.0f));
  }
  return sign | static_cast<uint8_t>(RoundNormal(std::bit_cast<uint32_t>(a), 3, 7));
}

float E4M3BitsToFloat(uint8_t bits) {
  const uint32_t exp = (bits >> 3) & 0xFu, mant = bits & 7u;
  float v;
  if (exp == 15 && mant == 7) {
    v = std::numeric_limits<float>::quiet_NaN();
  } else if (exp == 0) {
    v = static_cast<float>(mant) * 0.001953125f;  // 2^-9
  } else {
    v = std::ldexp(1.0f + static_cast<float>(mant) * 0.125f, static_cast<int>(exp) - 7);
  }
  return (bits & 0x80) ? -v : v;
}

uint8_t FloatToE5M2Bits(float x) {
  if (std::isnan(x)) return 0x7F;
  const uint8_t sign = std::signbit(x) ? 0x80 : 0x00;
  const float a = std::fabs(x);
  if (a >= kE5M2Max) return sign | 0x7B;
  if (a < 6.103515625e-05f) {  // below 2^-14: quantum 2^-16
    return sign | static_cast<uint8_t>(std::nearbyint(a * 65536.0f));
  }
  return sign | static_cast<uint8_t>(RoundNormal(std::bit_cast<uint32_t>(a), 2, 15));
}

float E5M2BitsToFloat(uint8_t bits) {
  // E5M2 is the top byte of an FP16.
  return Fp16BitsToFloat(static_cast<uint16_t>(bits) << 8);
}

uint8_t FloatToE3M3Bits(float x) {
  const float a = std::fabs(x);
  if (std::isnan(a)) return 0;
  if (a >= kE3M3Max) return 0x3F;
  if (a < 0.25f) return static_cast<uint8_t>(std::nearbyint(a * 32.0f));  // quantum 2^-5
  return static_cast<uint8_t>(RoundNormal(std::bit_cast<uint32_t>(a), 3, 3));
}

float E3M3BitsToFloat(uint8_t bits) {
  const uint32_t exp = (bits >> 3) & 7u, mant = bits & 7u;
  if (exp == 0) return static_cast<float>(mant) * 0.03125f;
  return std::ldexp(1.0f + static_cast<float>(mant) * 0.125f, static_cast<int>(exp) - 3);
}

float E2M1BitsToFloat(uint8_t nibble) {
  static constexpr float kMag[8] = {0.0f, 0.5f, 1.0f, 1.5f, 2.0f, 3.0f, 4.0f, 6.0f};
  const float v = kMag[nibble & 7];
  return (nibble & 8) ? -v : v;
}

uint8_t FloatToE2M1Bits(float x) {
  if (std::isnan(x)) return 0;
  const uint8_t sign = std::signbit(x) ? 0x8 : 0x0;
  const float a = std::fabs(x);
  if (a >= 6.0f) return sign | 0x7;
  if (a < 1.0f) return sign | static_cast<uint8_t>(std::nearbyint(a * 2.0f));  // quantum 0.5
  return sign | static_cast<uint8_t>(RoundNormal(std::bit_cast<uint32_t>(a), 1, 1));
}

float E8M0BitsToFloat(uint8_t bits) {
  if (bits == 0xFF) return std::numeric_limits<float>::quiet_NaN();
  return std::ldexp(1.0f, static_cast<int>(bits) - 127);
}

double RoundToMiniFloat(double x, const MiniFloatFormat& format, bool saturate) {
  if (x == 0 || std::isnan(x)) return x;
  const double a = std::fabs(x);
  const int min_exp = 1 - format.bias;
  int e;
  std::frexp(a, &e);
  const int exp = std::max(e - 1, min_exp);
  const double quantum = std::ldexp(1.0, exp - format.man_bits);
  double v = std::nearbyint(a / quantum) * quantum;  // a / quantum is exact: a power of two
  if (v > format.max_finite) {
    v = saturate ? format.max_finite : std::numeric_limits<double>::infinity();
  }
  return std::copysign(v, x);
}

uint32_t MiniFloatBits(double v, const MiniFloatFormat& format) {
  const uint32_t sign =
      (format.has_sign && std::signbit(v)) ? (1u << (format.exp_bits + format.man_bits)) : 0u;
  const double a = std::fabs(v);
  const uint32_t exp_all_ones = (1u << format.exp_bits) - 1u;
  if (std::isinf(a)) return sign | (exp_all_ones << format.man_bits);
  if (a == 0) return sign;
  const int min_exp = 1 - format.bias;
  if (a < std::ldexp(1.0, min_exp)) {
    return sign | static_cast<uint32_t>(a / std::ldexp(1.0, min_exp - format.man_bits));
  }
  int e;
  std::frexp(a, &e);
  const int exp = e - 1;
  const uint32_t mant =
      static_cast<uint32_t>((a / std::ldexp(1.0, exp) - 1.0) * std::ldexp(1.0, format.man_bits));
  return sign | (static_cast<uint32_t>(exp + format.bias) << format.man_bits) | mant;
}

double MiniFloatValue(uint32_t bits, const MiniFloatFormat& format) {
  const uint32_t mant = bits & ((1u << format.man_bits) - 1u);
  const uint32_t exp = (bits >> format.man_bits) & ((1u << format.exp_bits) - 1u);
  const bool negative =
      format.has_sign && ((bits >> (format.exp_bits + format.man_bits)) & 1u) != 0;
  double v;
  if (format.ieee_specials && exp == (1u << format.exp_bits) - 1u) {
    v = mant == 0 ? std::numeric_limits<double>::infinity()
                  : std::numeric_limits<double>::quiet_NaN();
  } else if (exp == 0) {
    v = std::ldexp(static_cast<double>(mant), 1 - format.bias - format.man_bits);
  } else {
    v = std::ldexp(1.0 + std::ldexp(static_cast<double>(mant), -format.man_bits),
                   static_cast<int>(exp) - format.bias);
    if (!format.ieee_specials && v > format.max_finite) {
      v = std::numeric_limits<double>::quiet_NaN();  // E4M3's S.1111.111
    }
  }
  return negative ? -v : v;
}

}  // namespace qlab::datatypes
