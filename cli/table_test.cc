#include "cli/table.h"

#include <gtest/gtest.h>

#include <cstdlib>

namespace qlab::cli {
namespace {

TEST(TableTest, AlignsColumnsAndRightAlignsNumbers) {
  std::string t = FormatTable({"name", "mse"}, {{"int4_asym", "0.01"}, {"e2m1", "0.125"}});
  EXPECT_EQ(t, "name       mse\nint4_asym   0.01\ne2m1       0.125\n");
}

TEST(TableTest, CsvQuotesWhatNeedsIt) {
  std::string csv = FormatCsv({"a", "b"}, {{"x,y", "say \"hi\""}, {"1", "2"}});
  EXPECT_EQ(csv, "a,b\n\"x,y\",\"say \"\"hi\"\"\"\n1,2\n");
}

TEST(TableTest, NumbersRoundTrip) {
  for (double v : {0.1, 4.125, 1e-7, 3.0, 123456789.125, 2.0 / 3.0}) {
    EXPECT_EQ(std::strtod(FormatNumber(v).c_str(), nullptr), v);
  }
  EXPECT_EQ(FormatNumber(4.125), "4.125");
}

}  // namespace
}  // namespace qlab::cli
