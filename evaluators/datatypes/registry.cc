// The registry table. Adding a datatype: one enum value (append-only), one row here, one golden
// test in registry_test.cc; the loops in the tests then cover it everywhere.
// Value tables are copied from ../shared/reference/datatypes.md (which names the source code);
// "ref. N" below is its section.
#include "evaluators/datatypes/registry.h"

#include <array>

namespace qlab::datatypes {
namespace {

// ---- Codebooks (element code -> value in scale units) -----------------------------------------

// 4-bit sign-magnitude: code s<<3 | m, magnitudes in ascending order; the -0 code 0x8 holds
// `neg_zero` (a special/supernormal value) or is redundant when it is 0.
constexpr Codebook SignMagnitude4(std::array<float, 8> mags, float neg_zero = 0) {
  Codebook b{};
  for (int m = 0; m < 8; ++m) {
    b.values[m] = mags[m];
    b.values[8 + m] = -mags[m];
  }
  b.values[8] = neg_zero;
  b.redundant_codes = neg_zero == 0 ? (1u << 8) : 0u;
  return b;
}

// 3-bit sign-magnitude: code s<<2 | m, magnitudes {0, 1, 2, 4}; code 0x4 (-0) as above.
constexpr Codebook Fp3(float neg_zero = 0) {
  Codebook b{{0, 1, 2, 4, neg_zero, -1, -2, -4}, 0};
  b.redundant_codes = neg_zero == 0 ? (1u << 4) : 0u;
  return b;
}

constexpr std::array<float, 8> kE2M1Mags = {0, 0.5f, 1, 1.5f, 2, 3, 4, 6};

constexpr Codebook kE2M1Book = SignMagnitude4(kE2M1Mags);

// NF4 (bitsandbytes get_4bit_type('nf4')): code = index in the sorted list.
constexpr Codebook kNf4Book = {{-1.0f, -0.6961928009986877f, -0.5250730514526367f,
                                -0.39491748809814453f, -0.28444138169288635f,
                                -0.18477343022823334f, -0.09105003625154495f, 0.0f,
                                0.07958029955625534f, 0.16093020141124725f, 0.24611230194568634f,
                                0.33791524171829224f, 0.44070982933044434f, 0.5626170039176941f,
                                0.7229568362236023f, 1.0f},
                               0};

// SF4 with nu = 5 (SF `SF4_5`), code = index in the sorted list. Other nu: computed (sf4.h).
constexpr Codebook kSf4Book = {{-1.0f, -0.627781f, -0.454736f, -0.334331f, -0.237434f,
                                -0.152899f, -0.074982f, 0.0f, 0.065513f, 0.132965f, 0.204661f,
                                0.283835f, 0.375805f, 0.491076f, 0.656781f, 1.0f},
                               0};

// RaZeR v1 (ref. 2.1, RZ1 FP4_LIST_REAL): E2M1 with the -0 code 0x8 remapped to the group's
// special value; selector 0..3 -> SV +5, +8, -5, -8 (docs/packed-layouts.md).
constexpr Codebook kRazerFp4Books[4] = {
    SignMagnitude4(kE2M1Mags, 5), SignMagnitude4(kE2M1Mags, 8), SignMagnitude4(kE2M1Mags, -5),
    SignMagnitude4(kE2M1Mags, -8)};
// BitMoD (ref. 3, `mixed_bitmod`): the same grids in BitMoD's candidate order er_pos, er_neg,
// ea_pos, ea_neg = +5, -5, +8, -8.
constexpr Codebook kBitmodFp4Books[4] = {
    SignMagnitude4(kE2M1Mags, 5), SignMagnitude4(kE2M1Mags, -5), SignMagnitude4(kE2M1Mags, 8),
    SignMagnitude4(kE2M1Mags, -8)};
// 3-bit: RZ1 FP3_SP_POS, FP3_SP_NEG, FP3_SR_POS, FP3_SR_NEG = BitMoD er/ea = +3, -3, +6, -6.
constexpr Codebook kFp3SvBooks[4] = {Fp3(3), Fp3(-3), Fp3(6), Fp3(-6)};
constexpr Codebook kFp3Book = Fp3();

// NVFP4-RaZeR weights (ref. 2.2, RZ2y inference convention): nibble 0x0 is the SV sentinel and
// 0x8 (-0) the zero; selector = scale byte bits 7..6 = SV sign, SV magnitude (0 -> 5, 1 -> 8).
constexpr Codebook Nvfp4RazerBook(float sv) {
  Codebook b = SignMagnitude4(kE2M1Mags);
  b.values[0] = sv;
  b.values[8] = 0;
  b.redundant_codes = 0;
  return b;
}
constexpr Codebook kNvfp4RazerBooks[4] = {Nvfp4RazerBook(5), Nvfp4RazerBook(8),
                                          Nvfp4RazerBook(-5), Nvfp4RazerBook(-8)};

// Student-Float paper variants (ref. 5, SF FLOAT_MAPPING).
constexpr Codebook kE2M1SrBook = SignMagnitude4(kE2M1Mags, 8);
constexpr Codebook kE2M1SpBook = SignMagnitude4(kE2M1Mags, 5);
constexpr Codebook kE1M2Book = SignMagnitude4({0, 1.25f, 1.5f, 1.75f, 2, 2.5f, 3, 3.5f});
constexpr Codebook kE3M0Book = SignMagnitude4({0, 0.25f, 0.5f, 1, 2, 4, 8, 16});
constexpr Codebook kE2M1IBook = SignMagnitude4({0, 0.0625f, 1, 1.5f, 2, 3, 4, 6});
constexpr Codebook kE2M1BBook = SignMagnitude4({0, 0.0625f, 2, 3, 4, 6, 8, 12});
constexpr std::array<float, 8> kApot4Mags = {0, 0.1f, 0.2f, 0.3f, 0.4f, 0.6f, 0.8f, 1.0f};
constexpr Codebook kApot4Book = SignMagnitude4(kApot4Mags);
constexpr Codebook kApot4SpBook = SignMagnitude4(kApot4Mags, 0.5f);

constexpr DatatypeTraits IntSym(Datatype type, const char* name, int bits) {
  return {.type = type, .name = name, .family = Family::kIntSym, .payload_bits = bits,
          .tie_rule = TieRule::kHalfEven,
          .definition = "symmetric INT: scale = absmax/(2^(b-1)-1), q in [-(2^(b-1)-1), "
                        "2^(b-1)-1] (ref. 6)"};
}

constexpr DatatypeTraits IntAsym(Datatype type, const char* name, int bits) {
  return {.type = type, .name = name, .family = Family::kIntAsym, .payload_bits = bits,
          .zero_bits = bits, .tie_rule = TieRule::kHalfEven,
          .definition = "asymmetric INT, AWQ convention: range [min,max], b-bit zero point "
                        "(ref. 6)"};
}

// A 4-bit (or 3-bit) single-codebook datatype with an FP16 absmax scale.
constexpr DatatypeTraits Grid(Datatype type, const char* name, const Codebook* book,
                              const char* definition, int bits = 4) {
  return {.type = type, .name = name, .family = Family::kGrid, .payload_bits = bits,
          .tie_rule = TieRule::kTowardZero, .num_codebooks = 1, .codebooks = book,
          .definition = definition};
}

constexpr DatatypeTraits kTable[] = {
    IntSym(Datatype::kInt2Sym, "int2_sym", 2),
    IntSym(Datatype::kInt3Sym, "int3_sym", 3),
    IntSym(Datatype::kInt4Sym, "int4_sym", 4),
    IntSym(Datatype::kInt5Sym, "int5_sym", 5),
    IntSym(Datatype::kInt6Sym, "int6_sym", 6),
    IntSym(Datatype::kInt7Sym, "int7_sym", 7),
    IntSym(Datatype::kInt8Sym, "int8_sym", 8),
    IntAsym(Datatype::kInt2Asym, "int2_asym", 2),
    IntAsym(Datatype::kInt3Asym, "int3_asym", 3),
    IntAsym(Datatype::kInt4Asym, "int4_asym", 4),
    IntAsym(Datatype::kInt5Asym, "int5_asym", 5),
    IntAsym(Datatype::kInt6Asym, "int6_asym", 6),
    IntAsym(Datatype::kInt7Asym, "int7_asym", 7),
    IntAsym(Datatype::kInt8Asym, "int8_asym", 8),
    Grid(Datatype::kE2M1, "e2m1", &kE2M1Book,
         "OCP E2M1 {0,+-0.5,..,+-6}, scale = absmax/6, ties to smaller magnitude (ref. 1)"),
    Grid(Datatype::kNf4, "nf4", &kNf4Book,
         "NF4 (bitsandbytes table), scale = absmax, code = index in the sorted table (ref. 5)"),
    {.type = Datatype::kRazerFp4, .name = "razer_fp4", .family = Family::kGrid, .payload_bits = 4,
     .selector_bits = 2, .num_codebooks = 4, .codebooks = kRazerFp4Books,
     .definition = "RaZeR v1: E2M1 with -0 -> SV in {+5,+8,-5,-8} per group by least squared "
                   "error, scale = absmax/max|grid| (ref. 2.1)"},
    {.type = Datatype::kMxfp4, .name = "mxfp4", .family = Family::kGrid, .payload_bits = 4,
     .default_group_size = 32, .scale_format = ScaleFormat::kE8M0, .scale_bits = 8,
     .tie_rule = TieRule::kAwayFromZero, .num_codebooks = 1, .codebooks = &kE2M1Book,
     .definition = "OCP MXFP4: E2M1, E8M0 scale 2^(floor(log2 absmax)-2), saturating, ties "
                   "away from zero (microxcaling, ref. 4.1)"},
    {.type = Datatype::kNvfp4, .name = "nvfp4", .family = Family::kGrid, .payload_bits = 4,
     .default_group_size = 16, .scale_format = ScaleFormat::kE4M3, .scale_bits = 8,
     .tie_rule = TieRule::kHalfEven, .num_codebooks = 1, .codebooks = &kE2M1Book,
     .scale_clamp_min = 0.001953125f, .scale_clamp_max = 448.0f, .tensor_scale_divisor = 2688.0f,
     .definition = "NVFP4: E2M1, E4M3 block scale + FP32 tensor scale absmax/(6*448), ties to "
                   "even mantissa (Model-Optimizer, ref. 4.2)"},
    Grid(Datatype::kFp3, "fp3", &kFp3Book,
         "3-bit FP {0,+-1,+-2,+-4} (RaZeR/BitMoD base), scale = absmax/4 (ref. 2.1)", 3),
    {.type = Datatype::kFp8E4M3, .name = "fp8_e4m3", .family = Family::kMiniFloat,
     .payload_bits = 8, .tie_rule = TieRule::kHalfEven, .element_format = ElementFormat::kFp8E4M3,
     .definition = "OCP FP8 E4M3 elements (bias 7, max 448), FP16 scale = absmax/448"},
    {.type = Datatype::kFp8E5M2, .name = "fp8_e5m2", .family = Family::kMiniFloat,
     .payload_bits = 8, .tie_rule = TieRule::kHalfEven, .element_format = ElementFormat::kFp8E5M2,
     .definition = "OCP FP8 E5M2 elements (bias 15, max 57344), FP16 scale = absmax/57344"},
    {.type = Datatype::kSf4, .name = "sf4", .family = Family::kGrid, .payload_bits = 4,
     .num_codebooks = 1, .codebooks = &kSf4Book, .has_nu = true,
     .definition = "Student Float SF4: NF4 recipe with Student-t(nu) quantiles, nu default 5 "
                   "(SF4_5 table), scale = absmax (ref. 5)"},
    Grid(Datatype::kApot4, "apot4", &kApot4Book,
         "APoT4 +-{0,.1,.2,.3,.4,.6,.8,1}, scale = absmax (ref. 5)"),
    Grid(Datatype::kApot4Sp, "apot4_sp", &kApot4SpBook,
         "APoT4 with -0 -> +0.5 (supernormal), scale = absmax (ref. 5)"),
    Grid(Datatype::kE2M1Sr, "e2m1_sr", &kE2M1SrBook,
         "E2M1 with -0 -> +8 (super-range), scale = absmax/8 (ref. 5)"),
    Grid(Datatype::kE2M1Sp, "e2m1_sp", &kE2M1SpBook,
         "E2M1 with -0 -> +5 (super-precision), scale = absmax/6 (ref. 5)"),
    Grid(Datatype::kE1M2, "e1m2", &kE1M2Book,
         "E1M2 table {0,+-1.25,..,+-3.5} (SF fp4_e1m2), scale = absmax/3.5 (ref. 5)"),
    Grid(Datatype::kE3M0, "e3m0", &kE3M0Book,
         "E3M0 {0,+-0.25,..,+-16} (SF fp4_log), scale = absmax/16 (ref. 5)"),
    Grid(Datatype::kE2M1I, "e2m1_i", &kE2M1IBook,
         "E2M1-I {0,+-0.0625,+-1,..,+-6} (SF fp4_e2m1), scale = absmax/6 (ref. 5)"),
    Grid(Datatype::kE2M1B, "e2m1_b", &kE2M1BBook,
         "E2M1-B bitsandbytes FP4 {0,+-0.0625,+-2,..,+-12}, scale = absmax/12 (ref. 5)"),
    {.type = Datatype::kRazerFp3, .name = "razer_fp3", .family = Family::kGrid, .payload_bits = 3,
     .selector_bits = 2, .num_codebooks = 4, .codebooks = kFp3SvBooks,
     .definition = "RaZeR v1 3-bit: fp3 with -0 -> SV in {+3,-3,+6,-6} per group by least "
                   "squared error (ref. 2.1)"},
    {.type = Datatype::kBitmodFp4, .name = "bitmod_fp4", .family = Family::kGrid,
     .payload_bits = 4, .selector_bits = 2, .num_codebooks = 4, .codebooks = kBitmodFp4Books,
     .scale_clamp_min = 1e-5f, .scale_clamp_max = 1e4f,
     .definition = "BitMoD 4-bit mixed_bitmod: per group fp4 er/ea +-5/+-8 by MSE, scale "
                   "clamp [1e-5,1e4] (ref. 3)"},
    {.type = Datatype::kBitmodFp3, .name = "bitmod_fp3", .family = Family::kGrid,
     .payload_bits = 3, .selector_bits = 2, .num_codebooks = 4, .codebooks = kFp3SvBooks,
     .scale_clamp_min = 1e-5f, .scale_clamp_max = 1e4f,
     .definition = "BitMoD 3-bit mixed_bitmod: per group fp3 er/ea +-3/+-6 by MSE, scale "
                   "clamp [1e-5,1e4] (ref. 3)"},
    {.type = Datatype::kMxfp4Razer, .name = "mxfp4_razer", .family = Family::kGrid,
     .payload_bits = 4, .default_group_size = 32, .scale_format = ScaleFormat::kE8M0,
     .scale_bits = 8, .selector_bits = 2, .tie_rule = TieRule::kAwayFromZero,
     .num_codebooks = 4, .codebooks = kRazerFp4Books,
     .definition = "MXFP4 with per-block SV in {+5,+8,-5,-8} on the -0 code by MSE; selector "
                   "storage unverified, counted as 2 bits (ref. 2.2)"},
    {.type = Datatype::kNvfp4Razer, .name = "nvfp4_razer", .family = Family::kGrid,
     .payload_bits = 4, .default_group_size = 16, .scale_format = ScaleFormat::kE3M3,
     .scale_bits = 6, .selector_bits = 2, .num_codebooks = 4, .codebooks = kNvfp4RazerBooks,
     .scale_clamp_min = 0.03125f, .scale_clamp_max = 28.0f, .tensor_scale_divisor = 168.0f,
     .definition = "NVFP4-RaZeR weights: E3M3 block scale (true E3M3 rounding) + FP32 tensor "
                   "scale absmax/(6*28), SV in {+-5,+-8} in the scale byte (ref. 2.2)"},
    {.type = Datatype::kFp16, .name = "fp16", .family = Family::kPassthrough, .payload_bits = 16,
     .scale_format = ScaleFormat::kNone, .scale_bits = 0, .tie_rule = TieRule::kHalfEven,
     .element_format = ElementFormat::kFp16, .definition = "IEEE binary16, RNE"},
    {.type = Datatype::kBf16, .name = "bf16", .family = Family::kPassthrough, .payload_bits = 16,
     .scale_format = ScaleFormat::kNone, .scale_bits = 0, .tie_rule = TieRule::kHalfEven,
     .element_format = ElementFormat::kBf16, .definition = "bfloat16, RNE"},
};

constexpr bool RowsMatchEnum() {
  if (std::size(kTable) != static_cast<size_t>(kNumDatatypes)) return false;
  for (size_t i = 0; i < std::size(kTable); ++i) {
    const DatatypeTraits& t = kTable[i];
    if (static_cast<size_t>(t.type) != i) return false;
    if (t.family == Family::kGrid) {
      if (t.codebooks == nullptr || t.payload_bits > 4) return false;
      if (t.num_codebooks != (t.selector_bits == 0 ? 1 : 1 << t.selector_bits)) return false;
    }
    const bool needs_element_format =
        t.family == Family::kMiniFloat || t.family == Family::kPassthrough;
    if (needs_element_format != (t.element_format != ElementFormat::kNone)) return false;
  }
  return true;
}
static_assert(RowsMatchEnum(), "registry row i must describe Datatype i; one row per datatype");

}  // namespace

const DatatypeTraits& GetTraits(Datatype type) { return kTable[static_cast<size_t>(type)]; }

const DatatypeTraits* FindDatatype(std::string_view name) {
  for (const DatatypeTraits& row : kTable) {
    if (name == row.name) return &row;
  }
  return nullptr;
}

StatusOr<Datatype> ParseDatatype(std::string_view name) {
  const DatatypeTraits* row = FindDatatype(name);
  if (row == nullptr) {
    return Status::NotFound("unknown datatype '" + std::string(name) + "'");
  }
  return row->type;
}

std::vector<std::string> DatatypeNames() {
  std::vector<std::string> names;
  names.reserve(std::size(kTable));
  for (const DatatypeTraits& row : kTable) names.emplace_back(row.name);
  return names;
}

double BitsPerWeight(const DatatypeTraits& traits, int64_t group_size) {
  const int per_group = traits.scale_bits + traits.zero_bits + traits.selector_bits;
  if (per_group == 0) return traits.payload_bits;
  return traits.payload_bits + static_cast<double>(per_group) / static_cast<double>(group_size);
}

const char* TieRuleName(TieRule rule) {
  switch (rule) {
    case TieRule::kHalfEven: return "half_even";
    case TieRule::kTowardZero: return "toward_zero";
    case TieRule::kAwayFromZero: return "away_from_zero";
  }
  return "unknown";
}

}  // namespace qlab::datatypes
