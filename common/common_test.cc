#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "common/glob.h"
#include "common/input_limits.h"
#include "common/param_keys.h"
#include "common/text_format.h"

namespace qlab {
namespace {

TEST(GlobTest, StarsQuestionMarksCaseAndBrackets) {
  EXPECT_TRUE(GlobMatch("cpu:*epyc*", "cpu:AMD EPYC 7B13"));
  EXPECT_TRUE(GlobMatch("cuda:NVIDIA H?00*", "cuda:NVIDIA H200"));
  EXPECT_FALSE(GlobMatch("cpu:*", "cuda:NVIDIA H100"));
  EXPECT_TRUE(GlobMatch("dev[0]", "dev[0]"));  // '[' is an ordinary character
  EXPECT_FALSE(GlobMatch("a*b", "a"));
}

TEST(TextTest, EqualsIgnoreCase) {
  EXPECT_TRUE(EqualsIgnoreCase("ImageNet16-120", "imagenet16-120"));
  EXPECT_FALSE(EqualsIgnoreCase("cifar10", "cifar100"));
  EXPECT_TRUE(EqualsIgnoreCase("", ""));
}

TEST(CsvTest, ReadsBackWhatCsvLineWrites) {
  const std::vector<std::vector<std::string>> rows = {
      {"arch", "device", "note"},
      {"|nor_conv_3x3~0|+|none~0|skip_connect~1|", "cpu:AMD EPYC, 2 cores", "say \"hi\""},
      {"", "multi\nline", "x"},
  };
  std::string text;
  for (const auto& r : rows) text += CsvLine(r);
  std::vector<std::vector<std::string>> back;
  std::string error;
  ASSERT_TRUE(ParseCsv(text, back, error)) << error;
  EXPECT_EQ(back, rows);
}

TEST(CsvTest, CrLfBlankLinesAndTrailingEmptyField) {
  std::vector<std::vector<std::string>> back;
  std::string error;
  ASSERT_TRUE(ParseCsv("a,b\r\n\r\n1,\r\n", back, error)) << error;
  EXPECT_EQ(back, (std::vector<std::vector<std::string>>{{"a", "b"}, {"1", ""}}));
}

TEST(CsvTest, MalformedQuotesNameTheLine) {
  std::vector<std::vector<std::string>> back;
  std::string error;
  EXPECT_FALSE(ParseCsv("a,b\n\"open,2\n", back, error));
  EXPECT_NE(error.find("line 2"), std::string::npos) << error;
  EXPECT_FALSE(ParseCsv("a\n\"x\"y\n", back, error));
  EXPECT_NE(error.find("after a closing quote"), std::string::npos) << error;
}

TEST(ParamReadersTest, TypesRangesAndAbsence) {
  const auto params = nlohmann::json::parse(
      R"({"n": 128.0, "big": 99, "x": "s", "lr": 0.5, "flag": true, "list": ["a", "b"],
          "one": "c", "bad_list": ["a", 1], "null": null})");
  int64_t n = 7;
  EXPECT_TRUE(ReadIntParam(params, "n", 0, 1000, &n).ok());
  EXPECT_EQ(n, 128);
  Status st = ReadIntParam(params, "big", 0, 10, &n);
  EXPECT_EQ(st.message(), "big: must be an integer in [0, 10], got 99");
  EXPECT_FALSE(ReadIntParam(params, "x", 0, 10, &n).ok());
  n = 5;
  EXPECT_TRUE(ReadIntParam(params, "missing", 0, 10, &n).ok());
  EXPECT_TRUE(ReadIntParam(params, "null", 0, 10, &n).ok());
  EXPECT_EQ(n, 5);
  double lr = 0;
  EXPECT_TRUE(ReadNumberParam(params, "lr", 0, 1, &lr).ok());
  EXPECT_EQ(lr, 0.5);
  EXPECT_FALSE(ReadNumberParam(params, "lr", 0, 0.1, &lr).ok());
  bool flag = false;
  EXPECT_TRUE(ReadBoolParam(params, "flag", &flag).ok());
  EXPECT_TRUE(flag);
  std::vector<std::string> list;
  EXPECT_TRUE(ReadStringListParam(params, "list", &list).ok());
  EXPECT_EQ(list, (std::vector<std::string>{"a", "b"}));
  EXPECT_TRUE(ReadStringListParam(params, "one", &list).ok());
  EXPECT_EQ(list, (std::vector<std::string>{"c"}));
  EXPECT_FALSE(ReadStringListParam(params, "bad_list", &list).ok());
}

}  // namespace
}  // namespace qlab

namespace qlab {
namespace {

TEST(InputLimitsTest, NestingCountsBracketsOutsideStrings) {
  EXPECT_TRUE(CheckJsonNesting(R"({"a": [1, {"b": [2]}]})", 4, "sweep").ok());
  Status deep = CheckJsonNesting(R"({"a": [1, {"b": [2]}]})", 3, "sweep");
  EXPECT_EQ(deep.code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(deep.message(), "sweep nests deeper than 3 levels at byte 16");
  // Brackets in strings, escaped quotes included, are text.
  EXPECT_TRUE(CheckJsonNesting(R"({"a": "[[[[{{{{\"[[[[", "b": ["]]]]"]})", 2, "x").ok());
  EXPECT_FALSE(CheckJsonNesting(R"(["\"", [[["\\"]]]])", 3, "x").ok());
  // A hostile 100,000-deep array is refused without recursing.
  EXPECT_FALSE(CheckJsonNesting(std::string(100000, '['), kMaxJsonNesting, "x").ok());
  // Closing brackets in excess cannot buy depth back.
  EXPECT_FALSE(CheckJsonNesting("]]]]" + std::string(5, '['), 4, "x").ok());
}

TEST(InputLimitsTest, SizeNamesWhatAndTheLimit) {
  EXPECT_TRUE(CheckSize(65536, kMaxJobParamsBytes, "params").ok());
  EXPECT_EQ(CheckSize(65537, kMaxJobParamsBytes, "params").message(),
            "params is 65537 bytes; at most 65536");
}

}  // namespace
}  // namespace qlab

namespace qlab {
namespace {

// FormatNumber's contract: printf %g at the fewest digits from 6 that read back exactly.
std::string FormatNumberBySearch(double v) {
  char buf[64];
  for (int precision = 6; precision <= 17; ++precision) {
    std::snprintf(buf, sizeof(buf), "%.*g", precision, v);
    if (std::strtod(buf, nullptr) == v) break;
  }
  return buf;
}

TEST(TextTest, FormatNumberIsTheShortestRoundTripGFormat) {
  std::mt19937_64 rng(5);
  std::vector<double> values = {0, -0.0, 1, 0.1, 0.25, 1e-5, 1e5, 100000, 1234567, 1e21, 5e-324,
                                1.7976931348623157e308, 2.0000000000000004, 0.30000000000000004,
                                123456789012345678.0, -3.5e-7};
  std::uniform_real_distribution<double> unit(0, 1);
  std::uniform_int_distribution<int> exponent(-30, 30);
  for (int i = 0; i < 20000; ++i) values.push_back((unit(rng) - 0.5) * std::pow(10.0, exponent(rng)));
  for (int i = 0; i < 2000; ++i) values.push_back(static_cast<double>(rng() % 100000000) / 1000.0);
  for (int i = 0; i < 2000; ++i) values.push_back(static_cast<double>(rng() % 10000000) * 1e9);
  std::uniform_int_distribution<int> wide(-320, 308);
  for (int i = 0; i < 20000; ++i) values.push_back((unit(rng) - 0.5) * std::pow(10.0, wide(rng)));
  for (int i = 0; i < 2000; ++i) {  // any bit pattern that is a number, subnormals included
    uint64_t bits = rng();
    double v;
    std::memcpy(&v, &bits, sizeof v);
    if (std::isfinite(v)) values.push_back(v);
  }
  for (double v : values) EXPECT_EQ(FormatNumber(v), FormatNumberBySearch(v)) << v;
}

}  // namespace
}  // namespace qlab
