// The datatype registry: one enum value and one table row per weight format, in the style of
// ggml's type_traits. A row says everything a sweep, the quantizer, the packers and the cost model
// need: name, element payload bits, element values (codebooks) or arithmetic rule, tie rule, scale
// format and rule, zero-point and selector bits, default group size. Every query goes through
// GetTraits(); registry.cc checks at compile time that row i describes datatype i.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace qlab::datatypes {

// APPEND-ONLY: new datatypes go just before kCount. Stored results use the names, but tests and
// the packers index tables by these values.
enum class Datatype : uint8_t {
  kInt2Sym, kInt3Sym, kInt4Sym, kInt5Sym, kInt6Sym, kInt7Sym, kInt8Sym,
  kInt2Asym, kInt3Asym, kInt4Asym, kInt5Asym, kInt6Asym, kInt7Asym, kInt8Asym,
  kE2M1,
  kNf4,
  kRazerFp4,
  kMxfp4,
  kNvfp4,
  kFp3,
  kFp8E4M3, kFp8E5M2,
  kSf4,
  kApot4, kApot4Sp,
  kE2M1Sr, kE2M1Sp,
  kE1M2, kE3M0, kE2M1I, kE2M1B,
  kRazerFp3,
  kBitmodFp4, kBitmodFp3,
  kMxfp4Razer,
  kNvfp4Razer,
  kFp16, kBf16,
  kCount,
};
inline constexpr int kNumDatatypes = static_cast<int>(Datatype::kCount);

// How elements are encoded.
enum class Family : uint8_t {
  // q = clamp(rne(x / s), -qmax, qmax), qmax = 2^(b-1) - 1, s = FP16(absmax / qmax).
  // Code: q in b-bit two's complement (code 2^(b-1), i.e. -2^(b-1), is never produced).
  kIntSym,
  // AWQ: s = FP16(max(max - min, 1e-5) / (2^b - 1)), z = clamp(-rne(min / s), 0, 2^b - 1),
  // q = clamp(rne(x / s) + z, 0, 2^b - 1), value (q - z) * s. Code: q unsigned.
  kIntAsym,
  // Nearest value of a codebook of at most 16 values (codes index `Codebook::values`). With
  // several codebooks the group keeps the one with the least squared error and stores its index
  // as the selector (RaZeR, BitMoD).
  kGrid,
  // Elements cast to a small float (element_format: OCP FP8) after dividing by the group's FP16
  // scale = absmax / max_finite(element_format); RNE, saturating. Code: the FP8 byte.
  kMiniFloat,
  // No groups, no scale: each element cast to element_format (FP16 / BF16), RNE, IEEE overflow
  // to Inf. Code: the 16-bit pattern.
  kPassthrough,
};

// Element encoding of kMiniFloat / kPassthrough rows.
enum class ElementFormat : uint8_t { kNone, kFp8E4M3, kFp8E5M2, kFp16, kBf16 };

// Storage format of the per-group (per-block) scale.
// With a clip ratio r (ScaleSearch::kMse) every absmax below is r * absmax.
enum class ScaleFormat : uint8_t {
  kNone,
  // IEEE half, RNE, saturating at 65504. scale = absmax / max|codebook| (kGrid; INT see Family).
  kFp16,
  // OCP MX shared exponent (E2M1 elements): scale = 2^(floor(log2(absmax)) - 2), the exponent
  // clamped to [-127, 127]; absmax 0 gives 2^-127. Elements saturate at +-6 (microxcaling).
  kE8M0,
  // NVFP4: scale = E4M3(clamp((absmax / max|codebook|) / tensor_scale, [2^-9, 448])), a zero
  // block's scale is 1 (Model-Optimizer); element t = x / (scale * tensor_scale).
  kE4M3,
  // NVFP4-RaZeR weights: as kE4M3 with E3M3 (clamp [2^-5, 28]).
  kE3M3,
};

// Where a value exactly halfway between two representable neighbours goes.
enum class TieRule : uint8_t {
  kHalfEven,      // to the even integer (std::nearbyint) / the neighbour whose code is even
  kTowardZero,    // to the neighbour of smaller magnitude
  kAwayFromZero,  // to the neighbour of larger magnitude
};

// Element values of a kGrid datatype, indexed by element code, in units of the scale.
struct Codebook {
  float values[16];
  // Bit c set: code c is redundant (decodes to a value another code already has, e.g. E2M1's
  // -0 0x8); the quantizer never emits it and round trips skip it.
  uint16_t redundant_codes;
};

// One row of the registry. Constant data; safe to share between threads.
struct DatatypeTraits {
  Datatype type = Datatype::kCount;
  const char* name = "";           // qlab's name (reference/datatypes.md), as used in sweeps
  Family family = Family::kGrid;
  int payload_bits = 0;            // bits per element code
  int default_group_size = 128;    // elements per group along a row (kPassthrough: ignored)
  ScaleFormat scale_format = ScaleFormat::kFp16;
  int scale_bits = 16;             // storage bits of one group's scale
  int zero_bits = 0;               // storage bits of one group's zero point (0: none)
  int selector_bits = 0;           // storage bits of one group's codebook selector (0: none)
  TieRule tie_rule = TieRule::kTowardZero;
  int num_codebooks = 0;           // kGrid: 1, or 2^selector_bits; 0 otherwise
  const Codebook* codebooks = nullptr;  // kGrid: num_codebooks entries, indexed by selector
  // The raw scale is clamped into [scale_clamp_min, scale_clamp_max] before it is rounded to its
  // format (BitMoD [1e-5, 1e4], NVFP4 [2^-9, 448]); 0 and 0: no clamp.
  float scale_clamp_min = 0;
  float scale_clamp_max = 0;
  // > 0: a per-tensor FP32 scale absmax(tensor) / tensor_scale_divisor multiplies every block
  // scale (NVFP4: 6 * 448). 0: none.
  float tensor_scale_divisor = 0;
  ElementFormat element_format = ElementFormat::kNone;  // kMiniFloat / kPassthrough
  bool has_nu = false;             // sf4: the codebook depends on QuantizerOptions::sf4_nu
  const char* definition = "";     // one line: definition and source (reference section)
};

// The row of `type`. REQUIRES: type < kCount.
const DatatypeTraits& GetTraits(Datatype type);

// The row named `name` (exact, lower case), or nullptr when there is none.
const DatatypeTraits* FindDatatype(std::string_view name);

// Like FindDatatype; NOT_FOUND naming the unknown datatype.
StatusOr<Datatype> ParseDatatype(std::string_view name);

// Every registry name, in enum order.
std::vector<std::string> DatatypeNames();

// Storage bits per weight at `group_size` elements per group: payload + (scale + zero +
// selector) / group_size. Per-tensor constants (NVFP4's FP32 scale) are not counted, as in the
// reference tables. REQUIRES: group_size > 0.
double BitsPerWeight(const DatatypeTraits& traits, int64_t group_size);

// Short name of a tie rule, for reports ("half_even", "toward_zero", "away_from_zero").
const char* TieRuleName(TieRule rule);

}  // namespace qlab::datatypes
