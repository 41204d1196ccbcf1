// NB201 space: the benchmark order against the reference anchors and a whole-table checksum,
// string/index round trips for all 15,625 cells, parsing errors, canonical classes.
#include "evaluators/latency/nb201.h"

#include <gtest/gtest.h>

#include <set>

namespace qlab::nas {
namespace {

struct Anchor {
  int index;
  const char* arch;
  int product_index;  // -1 where the reference gives none
};

// Reference nas-spaces.md §1.4 (rows 1462/1651/1835 give the ops only; their product indices
// follow from the formula).
const Anchor kAnchors[] = {
    {0,
     "|avg_pool_3x3~0|+|nor_conv_1x1~0|skip_connect~1|+|nor_conv_1x1~0|skip_connect~1|"
     "skip_connect~2|",
     13931},
    {1,
     "|nor_conv_3x3~0|+|nor_conv_3x3~0|avg_pool_3x3~1|+|skip_connect~0|nor_conv_3x3~1|"
     "skip_connect~2|",
     11791},
    {9, "|avg_pool_3x3~0|+|none~0|none~1|+|skip_connect~0|none~1|nor_conv_3x3~2|", 12528},
    {123,
     "|avg_pool_3x3~0|+|avg_pool_3x3~0|nor_conv_1x1~1|+|none~0|avg_pool_3x3~1|"
     "nor_conv_3x3~2|",
     15273},
    {15624, "|nor_conv_1x1~0|+|none~0|nor_conv_1x1~1|+|none~0|nor_conv_1x1~1|nor_conv_1x1~2|",
     6512},
    {1462,
     "|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|nor_conv_3x3~0|nor_conv_3x3~1|"
     "nor_conv_3x3~2|",
     11718},
    {1651, "|none~0|+|none~0|none~1|+|none~0|none~1|none~2|", 0},
    {1835,
     "|skip_connect~0|+|skip_connect~0|skip_connect~1|+|skip_connect~0|skip_connect~1|"
     "skip_connect~2|",
     3906},
};

TEST(Nb201Test, AnchorsMatchReference) {
  for (const Anchor& a : kAnchors) {
    SCOPED_TRACE(a.index);
    auto arch = Nb201ArchString(a.index);
    ASSERT_TRUE(arch.ok()) << arch.status().ToString();
    EXPECT_EQ(*arch, a.arch);
    auto index = Nb201IndexOf(a.arch);
    ASSERT_TRUE(index.ok()) << index.status().ToString();
    EXPECT_EQ(*index, a.index);
    EXPECT_EQ(*Nb201ProductIndexOfIndex(a.index), a.product_index);
  }
}

// FNV-1a-style fold of the whole permutation (benchmark index -> product index), computed with
// the reference's Python spec (§8). Catches any drift in the generator beyond the anchors.
TEST(Nb201Test, WholeOrderChecksumMatchesReferenceSpec) {
  uint64_t h = 14695981039346656037ull;
  for (int i = 0; i < kNb201NumArchs; ++i) {
    h ^= static_cast<uint64_t>(*Nb201ProductIndexOfIndex(i));
    h *= 1099511628211ull;
  }
  EXPECT_EQ(h, 2126812105971014719ull);
}

TEST(Nb201Test, RoundTripAllArchitectures) {
  std::set<int> products;
  std::set<std::string> strings;
  for (int i = 0; i < kNb201NumArchs; ++i) {
    auto s = Nb201ArchString(i);
    ASSERT_TRUE(s.ok());
    auto ops = ParseNb201Arch(*s);
    ASSERT_TRUE(ops.ok()) << *s;
    ASSERT_EQ(Nb201ArchStringOf(*ops), *s);
    ASSERT_EQ(Nb201IndexOf(*ops), i);
    ASSERT_EQ(*Nb201IndexOf(*s), i);
    const int p = Nb201ProductIndexOf(*ops);
    ASSERT_EQ(*Nb201ProductIndexOfIndex(i), p);
    ASSERT_EQ(*Nb201IndexOfProductIndex(p), i);
    ASSERT_EQ(Nb201OpsOfProductIndex(p)->at(0), ops->at(0));
    products.insert(p);
    strings.insert(*s);
  }
  EXPECT_EQ(products.size(), static_cast<size_t>(kNb201NumArchs));
  EXPECT_EQ(strings.size(), static_cast<size_t>(kNb201NumArchs));
}

TEST(Nb201Test, ProductIndexFormula) {
  // e0 most significant: only e5 = avg_pool (code 4) -> 4; only e0 = skip (code 1) -> 5^5.
  Nb201Ops ops{};
  ops[5] = Nb201Op::kAvgPool3x3;
  EXPECT_EQ(Nb201ProductIndexOf(ops), 4);
  ops = {};
  ops[0] = Nb201Op::kSkipConnect;
  EXPECT_EQ(Nb201ProductIndexOf(ops), 3125);
}

TEST(Nb201Test, OutOfRangeIndices) {
  for (int bad : {-1, kNb201NumArchs, 1 << 30}) {
    EXPECT_EQ(Nb201ArchString(bad).status().code(), StatusCode::kInvalidArgument);
    EXPECT_EQ(Nb201OpsOfProductIndex(bad).status().code(), StatusCode::kInvalidArgument);
    EXPECT_EQ(Nb201IndexOfProductIndex(bad).status().code(), StatusCode::kInvalidArgument);
    EXPECT_EQ(Nb201RepresentativeIndex(bad).status().code(), StatusCode::kInvalidArgument);
  }
  EXPECT_NE(Nb201ArchString(-1).status().message().find("[0, 15624]"), std::string::npos);
}

TEST(Nb201Test, WhitespaceAroundIsAccepted) {
  auto i = Nb201IndexOf("  |none~0|+|none~0|none~1|+|none~0|none~1|none~2|\n");
  ASSERT_TRUE(i.ok());
  EXPECT_EQ(*i, 1651);
}

TEST(Nb201Test, MalformedStringsAreRejectedWithReasons) {
  struct Case {
    const char* arch;
    const char* reason;  // substring of the message
  };
  const Case cases[] = {
      {"", "empty"},
      {"|none~0|", "3 nodes"},
      {"|none~0|+|none~0|none~1|", "3 nodes"},
      {"|none~0|+|none~0|none~1|+|none~0|none~1|none~2|+|none~0|", "more than 3"},
      {"none~0|+|none~0|none~1|+|none~0|none~1|none~2|", "wrapped in '|'"},
      {"|none~0|+|none~0|+|none~0|none~1|none~2|", "exactly 2 incoming"},
      {"|none~0|+|none~0|none~1|none~1|+|none~0|none~1|none~2|", "exactly 2 incoming"},
      {"|none~0|+|none~1|none~0|+|none~0|none~1|none~2|", "must read from node 0"},
      {"|none|+|none~0|none~1|+|none~0|none~1|none~2|", "lacks '~input'"},
      {"|conv_3x3~0|+|none~0|none~1|+|none~0|none~1|none~2|", "unknown NB201 operation"},
      {"|None~0|+|none~0|none~1|+|none~0|none~1|none~2|", "unknown NB201 operation"},
      {"|none~0|+|none~0|none~1|+|none~0|none~1|none~12|", "must read from node 2"},
      {"|none~0|+||none~0|none~1|+|none~0|none~1|none~2|", "lacks '~input'"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.arch);
    auto r = ParseNb201Arch(c.arch);
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
    EXPECT_NE(r.status().message().find(c.reason), std::string::npos) << r.status().message();
  }
}

TEST(Nb201Test, OpNames) {
  EXPECT_EQ(Nb201OpName(Nb201Op::kAvgPool3x3), "avg_pool_3x3");
  EXPECT_EQ(*Nb201OpFromName("nor_conv_1x1"), Nb201Op::kNorConv1x1);
  auto bad = Nb201OpFromName("sep_conv_3x3");
  EXPECT_EQ(bad.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(bad.status().message().find("sep_conv_3x3"), std::string::npos);
}

TEST(Nb201Test, CanonicalClassesMatchNasBench201Count) {
  const auto& unique = Nb201UniqueIndices();
  EXPECT_EQ(unique.size(), 6466u);  // NAS-Bench-201's number of unique topologies
  // Same representatives as the reference spec + upstream to_unique_str in Python.
  uint64_t h = 14695981039346656037ull;
  for (int r : unique) {
    h ^= static_cast<uint64_t>(r);
    h *= 1099511628211ull;
  }
  EXPECT_EQ(h, 8428661426987052710ull);
  for (int r : unique) ASSERT_EQ(*Nb201RepresentativeIndex(r), r);
}

TEST(Nb201Test, CanonicalFormTreatsSkipAndZeroAlgebraically) {
  EXPECT_EQ(Nb201CanonicalForm(*Nb201OpsOf(0)),
            "(0)@avg_pool_3x3+(0)@avg_pool_3x3+(0)@nor_conv_1x1+(0)@nor_conv_1x1");
  // Swapping which input of node 3 carries the conv changes nothing when nodes 1 and 2 are
  // both plain copies of the input.
  auto a = ParseNb201Arch(
      "|skip_connect~0|+|skip_connect~0|none~1|+|nor_conv_3x3~0|skip_connect~1|none~2|");
  auto b = ParseNb201Arch(
      "|skip_connect~0|+|skip_connect~0|none~1|+|skip_connect~0|nor_conv_3x3~1|none~2|");
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_EQ(Nb201CanonicalForm(*a), Nb201CanonicalForm(*b));
  EXPECT_NE(Nb201IndexOf(*a), Nb201IndexOf(*b));
  EXPECT_EQ(*Nb201RepresentativeIndex(Nb201IndexOf(*a)),
            *Nb201RepresentativeIndex(Nb201IndexOf(*b)));
  // A conv on the input is not the same as a pool on it.
  auto c = ParseNb201Arch(
      "|skip_connect~0|+|skip_connect~0|none~1|+|avg_pool_3x3~0|skip_connect~1|none~2|");
  EXPECT_NE(Nb201CanonicalForm(*a), Nb201CanonicalForm(*c));
}

TEST(Nb201Test, Connectivity) {
  EXPECT_FALSE(Nb201IsConnected(*Nb201OpsOf(1651)));  // all none
  EXPECT_TRUE(Nb201IsConnected(*Nb201OpsOf(1835)));   // all skip
  EXPECT_TRUE(Nb201IsConnected(*Nb201OpsOf(9)));      // input -> skip -> node 3
  auto cut = ParseNb201Arch("|nor_conv_3x3~0|+|none~0|none~1|+|none~0|none~1|nor_conv_3x3~2|");
  EXPECT_FALSE(Nb201IsConnected(*cut));
}

}  // namespace
}  // namespace qlab::nas
