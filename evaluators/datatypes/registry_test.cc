// Golden tests of the registry: every row's value grid against the reference tables
// (../shared/reference/datatypes.md), names, bits per weight and tie rules.
#include "evaluators/datatypes/registry.h"

#include <algorithm>
#include <cctype>
#include <set>
#include <vector>

#include <gtest/gtest.h>

#include "evaluators/datatypes/quantizer.h"

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

TEST(Registry, TieRulesRecorded) {
  EXPECT_EQ(GetTraits(Datatype::kInt4Asym).tie_rule, TieRule::kHalfEven);
  EXPECT_EQ(GetTraits(Datatype::kInt4Sym).tie_rule, TieRule::kHalfEven);
  EXPECT_EQ(GetTraits(Datatype::kNf4).tie_rule, TieRule::kTowardZero);
  EXPECT_STREQ(TieRuleName(TieRule::kAwayFromZero), "away_from_zero");
}

}  // namespace
}  // namespace qlab::datatypes
