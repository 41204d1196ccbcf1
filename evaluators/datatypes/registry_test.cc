// Golden tests of the registry: every row's value grid against the reference tables
// (../shared/reference/datatypes.md), names, bits per weight and tie rules.
#include "evaluators/datatypes/registry.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <map>
#include <set>
#include <vector>

#include <gtest/gtest.h>

#include "evaluators/datatypes/quantizer.h"
#include "evaluators/datatypes/student_t.h"

namespace qlab::datatypes {
namespace {

// Distinct values a datatype's codes decode to (selector `sel`), sorted.
std::vector<float> Grid(Datatype type, int sel = 0) {
  Quantizer q = Quantizer::Create(type, {}).value();
  std::set<float> values;
  for (uint32_t c = 0; c < q.NumCodes(); ++c) {
    if (!q.IsRedundantCode(c, sel)) values.insert(q.CodeValue(c, sel) + 0.0f);  // -0 -> +0
  }
  return {values.begin(), values.end()};
}

std::vector<float> Symmetric(std::vector<float> mags) {
  std::set<float> s;
  for (float m : mags) {
    s.insert(m);
    s.insert(-m + 0.0f);
  }
  return {s.begin(), s.end()};
}

TEST(Registry, RowsAreInEnumOrderWithUniqueLowerCaseNames) {
  EXPECT_EQ(kNumDatatypes, 38);
  std::set<std::string> names;
  for (int i = 0; i < kNumDatatypes; ++i) {
    const DatatypeTraits& t = GetTraits(static_cast<Datatype>(i));
    EXPECT_EQ(static_cast<int>(t.type), i);
    const std::string name = t.name;
    EXPECT_TRUE(names.insert(name).second) << "duplicate " << name;
    EXPECT_TRUE(std::all_of(name.begin(), name.end(),
                            [](char c) { return std::islower(c) || std::isdigit(c) || c == '_'; }))
        << name;
    EXPECT_EQ(FindDatatype(name), &t);
    EXPECT_GT(t.payload_bits, 0);
    EXPECT_GT(t.default_group_size, 0);
    EXPECT_NE(std::string(t.definition), "");
  }
  EXPECT_EQ(DatatypeNames().size(), static_cast<size_t>(kNumDatatypes));
  EXPECT_EQ(DatatypeNames().front(), "int2_sym");
}

TEST(Registry, UnknownNames) {
  EXPECT_EQ(FindDatatype("int4"), nullptr);
  EXPECT_EQ(FindDatatype("E2M1"), nullptr);  // names are exact, lower case
  EXPECT_EQ(ParseDatatype("fp5").status().code(), StatusCode::kNotFound);
  EXPECT_NE(ParseDatatype("fp5").status().message().find("fp5"), std::string::npos);
  EXPECT_EQ(ParseDatatype("int4_asym").value(), Datatype::kInt4Asym);
}

TEST(Registry, PhaseOneNamesExist) {
  for (const char* name : {"int2_sym", "int3_sym", "int4_sym", "int8_sym", "int2_asym",
                           "int3_asym", "int4_asym", "int8_asym", "e2m1", "nf4"}) {
    EXPECT_NE(FindDatatype(name), nullptr) << name;
  }
}

TEST(Registry, BitsPerWeightMatchReferenceTable) {
  EXPECT_DOUBLE_EQ(BitsPerWeight(GetTraits(Datatype::kInt4Asym), 128), 4.15625);
  EXPECT_DOUBLE_EQ(BitsPerWeight(GetTraits(Datatype::kInt4Sym), 128), 4.125);
  EXPECT_DOUBLE_EQ(BitsPerWeight(GetTraits(Datatype::kInt3Asym), 128), 3 + 19.0 / 128);
  EXPECT_DOUBLE_EQ(BitsPerWeight(GetTraits(Datatype::kE2M1), 128), 4.125);
  EXPECT_DOUBLE_EQ(BitsPerWeight(GetTraits(Datatype::kNf4), 64), 4.25);
  EXPECT_DOUBLE_EQ(BitsPerWeight(GetTraits(Datatype::kInt8Asym), 32), 8.75);
}

TEST(Registry, IntGrids) {
  for (int b = 2; b <= 8; ++b) {
    const auto sym = Grid(static_cast<Datatype>(static_cast<int>(Datatype::kInt2Sym) + b - 2));
    const int qmax = (1 << (b - 1)) - 1;
    ASSERT_EQ(sym.size(), static_cast<size_t>(2 * qmax + 1)) << b;
    EXPECT_EQ(sym.front(), -qmax);
    EXPECT_EQ(sym.back(), qmax);
    const auto asym = Grid(static_cast<Datatype>(static_cast<int>(Datatype::kInt2Asym) + b - 2));
    ASSERT_EQ(asym.size(), static_cast<size_t>(1 << b));
    EXPECT_EQ(asym.back(), (1 << b) - 1);
  }
}

TEST(Registry, E2M1GridAndCodes) {
  EXPECT_EQ(Grid(Datatype::kE2M1), Symmetric({0, 0.5f, 1, 1.5f, 2, 3, 4, 6}));
  Quantizer q = Quantizer::Create(Datatype::kE2M1, {}).value();
  EXPECT_EQ(q.CodeValue(0x7), 6.0f);
  EXPECT_EQ(q.CodeValue(0xF), -6.0f);
  EXPECT_EQ(q.CodeValue(0x9), -0.5f);
  EXPECT_TRUE(q.IsRedundantCode(0x8));
  EXPECT_EQ(GetTraits(Datatype::kE2M1).tie_rule, TieRule::kTowardZero);
}

TEST(Registry, Nf4GridIsBitsandbytesTable) {
  const std::vector<float> kNf4 = {
      -1.0f, -0.6961928009986877f, -0.5250730514526367f, -0.39491748809814453f,
      -0.28444138169288635f, -0.18477343022823334f, -0.09105003625154495f, 0.0f,
      0.07958029955625534f, 0.16093020141124725f, 0.24611230194568634f, 0.33791524171829224f,
      0.44070982933044434f, 0.5626170039176941f, 0.7229568362236023f, 1.0f};
  EXPECT_EQ(Grid(Datatype::kNf4), kNf4);
  Quantizer q = Quantizer::Create(Datatype::kNf4, {}).value();
  for (uint32_t c = 0; c < 16; ++c) EXPECT_EQ(q.CodeValue(c), kNf4[c]) << "code = index";
}

TEST(Registry, RazerFp4GridsPerSelector) {
  const std::vector<float> base = Symmetric({0, 0.5f, 1, 1.5f, 2, 3, 4, 6});
  const float kSv[4] = {5, 8, -5, -8};  // RZ1 FP4_LIST_REAL order = packed selector value
  for (int sel = 0; sel < 4; ++sel) {
    std::vector<float> expect = base;
    expect.push_back(kSv[sel]);
    std::sort(expect.begin(), expect.end());
    EXPECT_EQ(Grid(Datatype::kRazerFp4, sel), expect) << sel;
    Quantizer q = Quantizer::Create(Datatype::kRazerFp4, {}).value();
    EXPECT_EQ(q.CodeValue(0x8, sel), kSv[sel]);
    EXPECT_FALSE(q.IsRedundantCode(0x8, sel));
  }
  const DatatypeTraits& t = GetTraits(Datatype::kRazerFp4);
  EXPECT_EQ(t.selector_bits, 2);
  EXPECT_DOUBLE_EQ(BitsPerWeight(t, 128), 4.140625);
}

TEST(Registry, MicroscalingRows) {
  const std::vector<float> e2m1 = Symmetric({0, 0.5f, 1, 1.5f, 2, 3, 4, 6});
  EXPECT_EQ(Grid(Datatype::kMxfp4), e2m1);
  EXPECT_EQ(Grid(Datatype::kNvfp4), e2m1);
  EXPECT_DOUBLE_EQ(BitsPerWeight(GetTraits(Datatype::kMxfp4), 32), 4.25);
  EXPECT_DOUBLE_EQ(BitsPerWeight(GetTraits(Datatype::kNvfp4), 16), 4.5);
  EXPECT_EQ(GetTraits(Datatype::kMxfp4).default_group_size, 32);
  EXPECT_EQ(GetTraits(Datatype::kNvfp4).default_group_size, 16);
  EXPECT_EQ(GetTraits(Datatype::kMxfp4).scale_format, ScaleFormat::kE8M0);
  EXPECT_EQ(GetTraits(Datatype::kNvfp4).scale_format, ScaleFormat::kE4M3);
  EXPECT_EQ(GetTraits(Datatype::kMxfp4).tie_rule, TieRule::kAwayFromZero);
  EXPECT_EQ(GetTraits(Datatype::kNvfp4).tie_rule, TieRule::kHalfEven);
}

// One golden grid per single-codebook grid datatype (reference/datatypes.md sections 1, 2, 5).
// The test below fails for a kGrid row without an entry here.
const std::map<std::string, std::vector<float>>& GoldenGrids() {
  static const auto* golden = new std::map<std::string, std::vector<float>>{
      {"e2m1", Symmetric({0, 0.5f, 1, 1.5f, 2, 3, 4, 6})},
      {"mxfp4", Symmetric({0, 0.5f, 1, 1.5f, 2, 3, 4, 6})},
      {"nvfp4", Symmetric({0, 0.5f, 1, 1.5f, 2, 3, 4, 6})},
      {"nf4", {-1.0f, -0.6961928009986877f, -0.5250730514526367f, -0.39491748809814453f,
               -0.28444138169288635f, -0.18477343022823334f, -0.09105003625154495f, 0.0f,
               0.07958029955625534f, 0.16093020141124725f, 0.24611230194568634f,
               0.33791524171829224f, 0.44070982933044434f, 0.5626170039176941f,
               0.7229568362236023f, 1.0f}},
      {"sf4", {-1.0f, -0.627781f, -0.454736f, -0.334331f, -0.237434f, -0.152899f, -0.074982f,
               0.0f, 0.065513f, 0.132965f, 0.204661f, 0.283835f, 0.375805f, 0.491076f,
               0.656781f, 1.0f}},
      {"fp3", Symmetric({0, 1, 2, 4})},
      {"apot4", Symmetric({0, 0.1f, 0.2f, 0.3f, 0.4f, 0.6f, 0.8f, 1.0f})},
      {"e1m2", Symmetric({0, 1.25f, 1.5f, 1.75f, 2, 2.5f, 3, 3.5f})},
      {"e3m0", Symmetric({0, 0.25f, 0.5f, 1, 2, 4, 8, 16})},
      {"e2m1_i", Symmetric({0, 0.0625f, 1, 1.5f, 2, 3, 4, 6})},
      {"e2m1_b", Symmetric({0, 0.0625f, 2, 3, 4, 6, 8, 12})},
  };
  return *golden;
}

std::vector<float> With(std::vector<float> grid, float extra) {
  grid.push_back(extra);
  std::sort(grid.begin(), grid.end());
  return grid;
}

TEST(Registry, EveryGridDatatypeMatchesItsGoldenTable) {
  std::map<std::string, std::vector<float>> golden = GoldenGrids();
  const auto e2m1 = Symmetric({0, 0.5f, 1, 1.5f, 2, 3, 4, 6});
  golden["e2m1_sr"] = With(e2m1, 8);
  golden["e2m1_sp"] = With(e2m1, 5);
  golden["apot4_sp"] = With(Symmetric({0, 0.1f, 0.2f, 0.3f, 0.4f, 0.6f, 0.8f, 1.0f}), 0.5f);
  // Per-selector grids: selector -> special value.
  const std::map<std::string, std::vector<float>> sv = {
      {"razer_fp4", {5, 8, -5, -8}},   {"bitmod_fp4", {5, -5, 8, -8}},
      {"mxfp4_razer", {5, 8, -5, -8}}, {"nvfp4_razer", {5, 8, -5, -8}},
      {"razer_fp3", {3, -3, 6, -6}},   {"bitmod_fp3", {3, -3, 6, -6}}};
  int checked = 0;
  for (int i = 0; i < kNumDatatypes; ++i) {
    const DatatypeTraits& t = GetTraits(static_cast<Datatype>(i));
    if (t.family != Family::kGrid) continue;
    if (t.num_codebooks == 1) {
      ASSERT_TRUE(golden.count(t.name)) << "no golden grid for " << t.name;
      EXPECT_EQ(Grid(t.type), golden[t.name]) << t.name;
    } else {
      ASSERT_TRUE(sv.count(t.name)) << "no golden special values for " << t.name;
      const auto base = t.payload_bits == 3 ? Symmetric({0, 1, 2, 4}) : e2m1;
      for (int sel = 0; sel < t.num_codebooks; ++sel) {
        EXPECT_EQ(Grid(t.type, sel), With(base, sv.at(t.name)[sel])) << t.name << " " << sel;
      }
    }
    ++checked;
  }
  EXPECT_EQ(checked, 20);
}

TEST(Registry, SpecialValueCodes) {
  // RaZeR/BitMoD/MX-RaZeR put the SV on the -0 code; NVFP4-RaZeR on +0 (0x0) with 0x8 = 0.
  Quantizer razer = Quantizer::Create(Datatype::kRazerFp3, {}).value();
  EXPECT_EQ(razer.CodeValue(0x4, 2), 6.0f);
  Quantizer nv = Quantizer::Create(Datatype::kNvfp4Razer, {}).value();
  EXPECT_EQ(nv.CodeValue(0x0, 3), -8.0f);
  EXPECT_EQ(nv.CodeValue(0x8, 3), 0.0f);
  Quantizer sr = Quantizer::Create(Datatype::kE2M1Sr, {}).value();
  EXPECT_EQ(sr.CodeValue(0x8), 8.0f);
}

TEST(Registry, FloatElementRows) {
  std::vector<float> e4m3 = Grid(Datatype::kFp8E4M3);
  EXPECT_EQ(e4m3.size(), 253u);  // 254 finite codes, +-0 merged
  EXPECT_EQ(e4m3.back(), 448.0f);
  std::vector<float> e5m2 = Grid(Datatype::kFp8E5M2);
  EXPECT_EQ(e5m2.size(), 247u);  // 256 - 6 NaN - 2 Inf - 1 (-0)
  EXPECT_EQ(e5m2.back(), 57344.0f);
  Quantizer fp16 = Quantizer::Create(Datatype::kFp16, {}).value();
  EXPECT_EQ(fp16.NumCodes(), 65536u);
  EXPECT_TRUE(fp16.IsRedundantCode(0x7E00));   // NaN
  EXPECT_FALSE(fp16.IsRedundantCode(0x7C00));  // Inf is produced on overflow
}

TEST(Registry, BitsPerWeightOfEveryFamily) {
  EXPECT_DOUBLE_EQ(BitsPerWeight(GetTraits(Datatype::kFp3), 128), 3.125);
  EXPECT_DOUBLE_EQ(BitsPerWeight(GetTraits(Datatype::kRazerFp3), 128), 3.140625);
  EXPECT_DOUBLE_EQ(BitsPerWeight(GetTraits(Datatype::kBitmodFp4), 128), 4.140625);
  EXPECT_DOUBLE_EQ(BitsPerWeight(GetTraits(Datatype::kBitmodFp3), 128), 3.140625);
  EXPECT_DOUBLE_EQ(BitsPerWeight(GetTraits(Datatype::kMxfp4Razer), 32), 4.3125);
  EXPECT_DOUBLE_EQ(BitsPerWeight(GetTraits(Datatype::kNvfp4Razer), 16), 4.5);
  EXPECT_DOUBLE_EQ(BitsPerWeight(GetTraits(Datatype::kFp8E4M3), 128), 8.125);
  EXPECT_DOUBLE_EQ(BitsPerWeight(GetTraits(Datatype::kSf4), 128), 4.125);
  EXPECT_DOUBLE_EQ(BitsPerWeight(GetTraits(Datatype::kFp16), 128), 16.0);
  EXPECT_DOUBLE_EQ(BitsPerWeight(GetTraits(Datatype::kBf16), 7), 16.0);
}

TEST(Registry, AllIssueNamesExist) {
  for (const char* name :
       {"fp3", "fp8_e4m3", "fp8_e5m2", "sf4", "apot4", "apot4_sp", "e2m1_sr", "e2m1_sp", "e1m2",
        "e3m0", "e2m1_i", "e2m1_b", "razer_fp3", "bitmod_fp4", "bitmod_fp3", "mxfp4_razer",
        "nvfp4_razer", "fp16", "bf16", "razer_fp4", "mxfp4", "nvfp4"}) {
    EXPECT_NE(FindDatatype(name), nullptr) << name;
  }
}

TEST(StudentT, CdfQuantileAndSf4Table) {
  // Closed forms: nu = 1 (Cauchy) and nu = 2.
  for (double t : {-3.0, -0.5, 0.0, 0.7, 2.0, 10.0}) {
    EXPECT_NEAR(StudentTCdf(t, 1), 0.5 + std::atan(t) / M_PI, 1e-13) << t;
    EXPECT_NEAR(StudentTCdf(t, 2), 0.5 + t / (2 * std::sqrt(2 + t * t)), 1e-13) << t;
  }
  EXPECT_NEAR(StudentTQuantile(0.975, 5), 2.570581835636314, 1e-9);  // scipy t.ppf
  EXPECT_DOUBLE_EQ(StudentTQuantile(0.5, 3), 0.0);
  EXPECT_NEAR(StudentTQuantile(0.1, 4), -StudentTQuantile(0.9, 4), 1e-14);
  // The published SF4_5 table is the recipe at nu = 5, rounded to 6 decimals.
  const std::array<float, 16> sf4 = StudentFloatValues(5);
  const std::vector<float>& table = GoldenGrids().at("sf4");
  for (int i = 0; i < 16; ++i) EXPECT_NEAR(sf4[i], table[i], 6e-7) << i;
}

TEST(Registry, TieRulesRecorded) {
  EXPECT_EQ(GetTraits(Datatype::kInt4Asym).tie_rule, TieRule::kHalfEven);
  EXPECT_EQ(GetTraits(Datatype::kInt4Sym).tie_rule, TieRule::kHalfEven);
  EXPECT_EQ(GetTraits(Datatype::kNf4).tie_rule, TieRule::kTowardZero);
  EXPECT_STREQ(TieRuleName(TieRule::kAwayFromZero), "away_from_zero");
}

}  // namespace
}  // namespace qlab::datatypes
