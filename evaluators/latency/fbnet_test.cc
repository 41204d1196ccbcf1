// FBNet space: block table, per-layer shapes (reference nas-spaces.md §2.2), parsing.
#include "evaluators/latency/fbnet.h"

#include <gtest/gtest.h>

namespace qlab::nas {
namespace {

TEST(FbnetTest, BlockTableMatchesPrimitives) {
  const char* names[] = {"k3_e1",    "k3_e1_g2", "k3_e3", "k3_e6", "k5_e1",
                         "k5_e1_g2", "k5_e3",    "k5_e6", "skip"};
  for (int c = 0; c < kFbnetNumOps; ++c) EXPECT_EQ(FbnetBlockOf(c).name, names[c]);
  EXPECT_EQ(FbnetBlockOf(1).groups, 2);
  EXPECT_EQ(FbnetBlockOf(7).expansion, 6);
  EXPECT_EQ(FbnetBlockOf(7).kernel, 5);
}

TEST(FbnetTest, Cifar100LayersMatchReference) {
  const auto l = FbnetLayers(FbnetDataset::kCifar100);
  // L00 16->16 s1 @32 | L01 16->24 s1 @32 | L05 24->32 s2 @32 | L06 32->32 @16 | L09 32->64 s2
  // @16 | L10 64->64 @8 | L13 64->112 s1 @8 | L17 112->184 s2 @8 | L18 @4 | L21 184->352 s1 @4
  auto expect = [&](int i, int c_in, int c_out, int s, int h) {
    SCOPED_TRACE(i);
    EXPECT_EQ(l[i].c_in, c_in);
    EXPECT_EQ(l[i].c_out, c_out);
    EXPECT_EQ(l[i].stride, s);
    EXPECT_EQ(l[i].h_in, h);
  };
  expect(0, 16, 16, 1, 32);
  expect(1, 16, 24, 1, 32);
  expect(4, 24, 24, 1, 32);
  expect(5, 24, 32, 2, 32);
  expect(6, 32, 32, 1, 16);
  expect(9, 32, 64, 2, 16);
  expect(10, 64, 64, 1, 8);
  expect(13, 64, 112, 1, 8);
  expect(16, 112, 112, 1, 8);
  expect(17, 112, 184, 2, 8);
  expect(18, 184, 184, 1, 4);
  expect(21, 184, 352, 1, 4);
}

TEST(FbnetTest, ImageNetLayersHalveFromStem) {
  const auto l = FbnetLayers(FbnetDataset::kImageNet);
  EXPECT_EQ(l[0].h_in, 112);
  EXPECT_EQ(l[1].h_in, 112);
  EXPECT_EQ(l[1].stride, 2);
  EXPECT_EQ(l[2].h_in, 56);
  EXPECT_EQ(l[21].h_in, 7);  // final feature map 7x7
  EXPECT_EQ(FbnetMacroOf(FbnetDataset::kImageNet).header_channels, 1984);
  EXPECT_EQ(FbnetMacroOf(FbnetDataset::kCifar100).header_channels, 1504);
}

TEST(FbnetTest, ParseForms) {
  const FbnetArch help0 = {7, 8, 1, 8, 4, 8, 8, 8, 7, 4, 1, 4, 7, 3, 2, 7, 3, 2, 4, 2, 4, 5};
  EXPECT_EQ(FbnetArchKey(help0), "7-8-1-8-4-8-8-8-7-4-1-4-7-3-2-7-3-2-4-2-4-5");
  for (const char* text : {"7-8-1-8-4-8-8-8-7-4-1-4-7-3-2-7-3-2-4-2-4-5",
                           "[7, 8, 1, 8, 4, 8, 8, 8, 7, 4, 1, 4, 7, 3, 2, 7, 3, 2, 4, 2, 4, 5]",
                           " 7 8 1 8 4 8 8 8 7 4 1 4 7 3 2 7 3 2 4 2 4 5 ",
                           "k5_e6,skip,k3_e1_g2,skip,k5_e1,skip,skip,skip,k5_e6,k5_e1,k3_e1_g2,"
                           "k5_e1,k5_e6,k3_e6,k3_e3,k5_e6,k3_e6,k3_e3,k5_e1,k3_e3,k5_e1,"
                           "k5_e1_g2"}) {
    SCOPED_TRACE(text);
    auto a = ParseFbnetArch(text);
    ASSERT_TRUE(a.ok()) << a.status().ToString();
    EXPECT_EQ(*a, help0);
  }
}

TEST(FbnetTest, BadArchitectures) {
  EXPECT_NE(ParseFbnetArch("0-0-0").status().message().find("got 3"), std::string::npos);
  auto nine = ParseFbnetArch("9-0-0-0-0-0-0-0-0-0-0-0-0-0-0-0-0-0-0-0-0-0");
  EXPECT_EQ(nine.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(nine.status().message().find("layer 0"), std::string::npos);
  auto name = ParseFbnetArch("k7_e1-0-0-0-0-0-0-0-0-0-0-0-0-0-0-0-0-0-0-0-0-0");
  EXPECT_NE(name.status().message().find("k7_e1"), std::string::npos);
  EXPECT_FALSE(ParseFbnetArch("[0-0").ok());
  EXPECT_FALSE(FbnetArchFromCodes(std::vector<int>(22, -1)).ok());
  EXPECT_FALSE(FbnetArchFromCodes(std::vector<int>(23, 0)).ok());
  EXPECT_TRUE(FbnetArchFromCodes(std::vector<int>(22, 8)).ok());
}

TEST(FbnetTest, Datasets) {
  EXPECT_EQ(*ParseFbnetDataset("cifar100"), FbnetDataset::kCifar100);
  EXPECT_EQ(*ParseFbnetDataset("imagenet"), FbnetDataset::kImageNet);
  EXPECT_EQ(ParseFbnetDataset("cifar10").status().code(), StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace qlab::nas
