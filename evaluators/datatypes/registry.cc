// The registry table. Adding a datatype: one enum value (append-only), one row here, one golden
// test in registry_test.cc; the loops in the tests then cover it everywhere.
// Value tables are copied from ../shared/reference/datatypes.md (which names the source code).
#include "evaluators/datatypes/registry.h"

#include <array>

namespace qlab::datatypes {
namespace {

// ---- Codebooks (element code -> value in scale units) -----------------------------------------

// OCP E2M1, nibble sign<<3 | eem. 0x8 (-0) is redundant.
constexpr Codebook kE2M1Book = {
    {0, 0.5f, 1, 1.5f, 2, 3, 4, 6, 0, -0.5f, -1, -1.5f, -2, -3, -4, -6}, 1u << 8};

// NF4 (bitsandbytes get_4bit_type('nf4')): code = index in the sorted list.
constexpr Codebook kNf4Book = {{-1.0f, -0.6961928009986877f, -0.5250730514526367f,
                                -0.39491748809814453f, -0.28444138169288635f,
                                -0.18477343022823334f, -0.09105003625154495f, 0.0f,
                                0.07958029955625534f, 0.16093020141124725f, 0.24611230194568634f,
                                0.33791524171829224f, 0.44070982933044434f, 0.5626170039176941f,
                                0.7229568362236023f, 1.0f},
                               0};

// RaZeR v1 (reference 2.1, RZ1 FP4_LIST_REAL): E2M1 with the -0 code 0x8 remapped to the
// group's special value; selector 0..3 -> SV +5, +8, -5, -8 (docs/packed-layouts.md).
constexpr Codebook RazerFp4Book(float sv) {
  return {{0, 0.5f, 1, 1.5f, 2, 3, 4, 6, sv, -0.5f, -1, -1.5f, -2, -3, -4, -6}, 0};
}
constexpr Codebook kRazerFp4Books[4] = {RazerFp4Book(5), RazerFp4Book(8), RazerFp4Book(-5),
                                        RazerFp4Book(-8)};

constexpr DatatypeTraits IntSym(Datatype type, const char* name, int bits) {
  return {type, name, Family::kIntSym, bits, 128, ScaleFormat::kFp16, 16, 0, 0,
          TieRule::kHalfEven, 0, nullptr, 0, 0, 0,
          "symmetric INT: scale = absmax/(2^(b-1)-1), q in [-(2^(b-1)-1), 2^(b-1)-1] (ref. 6)"};
}

constexpr DatatypeTraits IntAsym(Datatype type, const char* name, int bits) {
  return {type, name, Family::kIntAsym, bits, 128, ScaleFormat::kFp16, 16, bits, 0,
          TieRule::kHalfEven, 0, nullptr, 0, 0, 0,
          "asymmetric INT, AWQ convention: range [min,max], b-bit zero point (ref. 6)"};
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
    {Datatype::kE2M1, "e2m1", Family::kGrid, 4, 128, ScaleFormat::kFp16, 16, 0, 0,
     TieRule::kTowardZero, 1, &kE2M1Book, 0, 0, 0,
     "OCP E2M1 {0,+-0.5,..,+-6}, scale = absmax/6, ties to smaller magnitude (ref. 1)"},
    {Datatype::kNf4, "nf4", Family::kGrid, 4, 128, ScaleFormat::kFp16, 16, 0, 0,
     TieRule::kTowardZero, 1, &kNf4Book, 0, 0, 0,
     "NF4 (bitsandbytes table), scale = absmax, code = index in the sorted table (ref. 5)"},
    {Datatype::kRazerFp4, "razer_fp4", Family::kGrid, 4, 128, ScaleFormat::kFp16, 16, 0, 2,
     TieRule::kTowardZero, 4, kRazerFp4Books, 0, 0, 0,
     "RaZeR v1: E2M1 with -0 -> SV in {+5,+8,-5,-8} per group by least squared error, scale = "
     "absmax/max|grid| (ref. 2.1)"},
    {Datatype::kMxfp4, "mxfp4", Family::kGrid, 4, 32, ScaleFormat::kE8M0, 8, 0, 0,
     TieRule::kAwayFromZero, 1, &kE2M1Book, 0, 0, 0,
     "OCP MXFP4: E2M1, E8M0 scale 2^(floor(log2 absmax)-2), saturating, ties away from zero "
     "(microxcaling, ref. 4.1)"},
    {Datatype::kNvfp4, "nvfp4", Family::kGrid, 4, 16, ScaleFormat::kE4M3, 8, 0, 0,
     TieRule::kHalfEven, 1, &kE2M1Book, 0.001953125f, 448.0f, 2688.0f,
     "NVFP4: E2M1, E4M3 block scale + FP32 tensor scale absmax/(6*448), ties to even mantissa "
     "(Model-Optimizer, ref. 4.2)"},
};

constexpr bool RowsMatchEnum() {
  if (std::size(kTable) != static_cast<size_t>(kNumDatatypes)) return false;
  for (size_t i = 0; i < std::size(kTable); ++i) {
    if (static_cast<size_t>(kTable[i].type) != i) return false;
    const DatatypeTraits& t = kTable[i];
    if (t.family == Family::kGrid) {
      if (t.codebooks == nullptr || t.payload_bits > 4) return false;
      if (t.num_codebooks != (t.selector_bits == 0 ? 1 : 1 << t.selector_bits)) return false;
    }
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
