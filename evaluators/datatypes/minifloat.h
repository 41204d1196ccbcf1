// Exact conversions between float and the small floating-point formats qlab stores elements and
// scales in: IEEE FP16, BF16, OCP FP8 E4M3 / E5M2, E3M3 (NVFP4-RaZeR block scales), E2M1 and
// E8M0. Every Float->bits conversion rounds to nearest, ties to even, as hardware converters do;
// the overflow behaviour is stated per function. All functions are pure and thread-safe, and
// work in any rounding mode only if it is the default (round to nearest): qlab never changes it.
#pragma once

#include <bit>
#include <cstdint>

namespace qlab::datatypes {

// ---- IEEE binary16 ----------------------------------------------------------------------------
// RNE. Overflow (|x| >= 65520) gives +-Inf, NaN gives a quiet NaN (0x7E00 | sign), subnormals are
// produced exactly (smallest 2^-24). Inline: it runs per element for the fp16 datatype.
inline uint16_t FloatToFp16Bits(float x) {
  // F. Giesen's float_to_half_fast3_rtne: exact RNE including subnormals.
  uint32_t f = std::bit_cast<uint32_t>(x);
  const uint32_t sign = (f >> 16) & 0x8000u;
  f &= 0x7FFFFFFFu;
  if (f >= (143u << 23)) {  // >= 2^16: Inf, or NaN (quiet)
    return static_cast<uint16_t>(sign | (f > 0x7F800000u ? 0x7E00u : 0x7C00u));
  }
  if (f < (113u << 23)) {  // below 2^-14: the result is subnormal or zero
    // Adding 0.5 puts the half-subnormal quantum (2^-24) at the float's last mantissa bit, so
    // the FPU's own RNE does the rounding.
    const float shifted = std::bit_cast<float>(f) + 0.5f;
    return static_cast<uint16_t>(sign | (std::bit_cast<uint32_t>(shifted) - 0x3F000000u));
  }
  const uint32_t mant_odd = (f >> 13) & 1u;
  f += 0xC8000FFFu + mant_odd;  // rebias exponent (127 -> 15) and add the rounding bias
  return static_cast<uint16_t>(sign | (f >> 13));  // a carry into 0x7C00 is the correct Inf
}
// Exact (every FP16 value is a float).
inline float Fp16BitsToFloat(uint16_t h) {
  const uint32_t sign = static_cast<uint32_t>(h & 0x8000u) << 16;
  const uint32_t exp = (h >> 10) & 0x1Fu;
  const uint32_t mant = h & 0x3FFu;
  if (exp == 0) {
    const float v = static_cast<float>(mant) * 5.9604644775390625e-08f;  // mant * 2^-24, exact
    return std::bit_cast<float>(std::bit_cast<uint32_t>(v) | sign);
  }
  if (exp == 31) return std::bit_cast<float>(sign | 0x7F800000u | (mant << 13));
  return std::bit_cast<float>(sign | ((exp + 112u) << 23) | (mant << 13));
}
inline float RoundToFp16(float x) { return Fp16BitsToFloat(FloatToFp16Bits(x)); }
// Largest finite FP16 value, 65504.
inline constexpr float kFp16Max = 65504.0f;
// FloatToFp16Bits for a scale: non-negative finite input expected; values above 65504 saturate to
// 65504 instead of becoming Inf (a hardware scale register would saturate, and an Inf scale would
// turn a whole group into NaN).
uint16_t ScaleToFp16Bits(float scale);

// ---- bfloat16 ---------------------------------------------------------------------------------
// RNE; overflow gives +-Inf (as IEEE rounding does); NaN gives 0x7FC0 | sign.
inline uint16_t FloatToBf16Bits(float x) {
  uint32_t b = std::bit_cast<uint32_t>(x);
  if ((b & 0x7FFFFFFFu) > 0x7F800000u) return static_cast<uint16_t>((b >> 16) | 0x7FC0u);
  b += 0x7FFFu + ((b >> 16) & 1u);
  return static_cast<uint16_t>(b >> 16);
}
inline float Bf16BitsToFloat(uint16_t bits) {
  return std::bit_cast<float>(static_cast<uint32_t>(bits) << 16);
}

// ---- OCP FP8 ----------------------------------------------------------------------------------
// E4M3 ("fn"): bias 7, no Inf, 0x7F/0xFF are NaN, max 448, min subnormal 2^-9.
// RNE, saturating: |x| > 448 gives +-448 (0x7E/0xFE); NaN gives 0x7F.
uint8_t FloatToE4M3Bits(float x);
float E4M3BitsToFloat(uint8_t bits);  // 0x7F/0xFF decode to NaN
inline constexpr float kE4M3Max = 448.0f;
// E5M2: bias 15, IEEE-like (0x7C Inf, 0x7D..0x7F NaN), max 57344, min subnormal 2^-16.
// RNE, saturating to +-57344 (0x7B/0xFB) like the "satfinite" conversions; NaN gives 0x7F; +-Inf
// input also saturates.
uint8_t FloatToE5M2Bits(float x);
float E5M2BitsToFloat(uint8_t bits);
inline constexpr float kE5M2Max = 57344.0f;

// ---- E3M3 (unsigned, 6 bits) ------------------------------------------------------------------
// The NVFP4-RaZeR block-scale payload: bias 3, no sign, no Inf/NaN; normals 2^(e-3) * (1 + m/8)
// for e = 1..7, subnormals m * 2^-5; range [2^-5, 30]. Input must be >= 0 (negative input is
// treated as its magnitude). RNE, saturating to 30 (payload 0x3F).
uint8_t FloatToE3M3Bits(float x);
float E3M3BitsToFloat(uint8_t bits);  // uses bits 5..0 only
inline constexpr float kE3M3Max = 30.0f;
inline constexpr float kE3M3MinSubnormal = 0.03125f;  // 2^-5

// ---- E2M1 (OCP FP4) ---------------------------------------------------------------------------
// Nibble sign<<3 | eem; magnitudes 0, 0.5, 1, 1.5, 2, 3, 4, 6. 0x8 decodes to -0.0f.
float E2M1BitsToFloat(uint8_t nibble);
// RNE on the mantissa (ties to the even code, NVIDIA Model-Optimizer's bounds), saturating to +-6.
// NaN gives +0 (E2M1 has no NaN; callers reject NaN earlier).
uint8_t FloatToE2M1Bits(float x);

// ---- E8M0 (OCP MX shared scale) ---------------------------------------------------------------
// Value 2^(bits - 127); 0xFF is NaN.
float E8M0BitsToFloat(uint8_t bits);

// ---- Generic exact rounding (tests and cold paths) -----------------------------------------
// Describes a small binary floating-point format.
struct MiniFloatFormat {
  int exp_bits;
  int man_bits;
  int bias;
  bool has_sign;
  // Largest finite magnitude (the value above which Float->bits overflows).
  double max_finite;
  // true: the all-ones exponent is Inf/NaN (IEEE). false: it holds normal numbers (E4M3 keeps
  // only mantissa all-ones as NaN, E3M3/E2M1 have no specials).
  bool ieee_specials;
};
inline constexpr MiniFloatFormat kFp16Format{5, 10, 15, true, 65504.0, true};
inline constexpr MiniFloatFormat kBf16Format{8, 7, 127, true, 3.3895313892515355e38, true};
inline constexpr MiniFloatFormat kE4M3Format{4, 3, 7, true, 448.0, false};
inline constexpr MiniFloatFormat kE5M2Format{5, 2, 15, true, 57344.0, true};
inline constexpr MiniFloatFormat kE3M3Format{3, 3, 3, false, 30.0, false};
inline constexpr MiniFloatFormat kE2M1Format{2, 1, 1, true, 6.0, false};

// Rounds finite x to the nearest value of `format` (ties to even mantissa). |result| above
// max_finite saturates to +-max_finite when `saturate`, else becomes +-Inf. Slow but obviously
// correct: the reference the fast paths are tested against.
double RoundToMiniFloat(double x, const MiniFloatFormat& format, bool saturate);
// Bits of a value already representable in `format` (e.g. RoundToMiniFloat's result; +-Inf for
// IEEE formats). REQUIRES: v representable, not NaN.
uint32_t MiniFloatBits(double v, const MiniFloatFormat& format);
// Decodes bits; NaN for NaN encodings.
double MiniFloatValue(uint32_t bits, const MiniFloatFormat& format);

}  // namespace qlab::datatypes
