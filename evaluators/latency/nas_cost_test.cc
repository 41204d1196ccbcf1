// Analytic costs against NAS-Bench-201's published cost table and hand-derived layer counts.
#include "evaluators/latency/nas_cost.h"

#include <gtest/gtest.h>

namespace qlab::nas {
namespace {

Nb201Ops AllOps(Nb201Op op) {
  Nb201Ops ops;
  ops.fill(op);
  return ops;
}

// NAS-Bench-201's cost table for benchmark index 0 on cifar10: 15.64737 MFLOPs, 0.129306 M
// params. The space's extremes on cifar10 are all-none (7.78 MFLOPs, 0.073 M params) and
// all-nor_conv_3x3 (220.11 MFLOPs, 1.53 M params), the range NAS-Bench-201 reports.
TEST(NasCostTest, Nb201MatchesPublishedCifar10Values) {
  NetworkCost c0 = Nb201Cost(*Nb201OpsOf(0), Nb201Dataset::kCifar10);
  EXPECT_EQ(c0.params, 129306);
  EXPECT_EQ(c0.flops, 15647370);
  NetworkCost none = Nb201Cost(AllOps(Nb201Op::kNone), Nb201Dataset::kCifar10);
  EXPECT_EQ(none.params, 73306);
  EXPECT_EQ(none.flops, 7783050);
  NetworkCost conv = Nb201Cost(AllOps(Nb201Op::kNorConv3x3), Nb201Dataset::kCifar10);
  EXPECT_EQ(conv.params, 1531546);
  EXPECT_EQ(conv.flops, 220119690);
  // Parameter-free ops cost the same as 'none'.
  NetworkCost pool = Nb201Cost(AllOps(Nb201Op::kAvgPool3x3), Nb201Dataset::kCifar10);
  EXPECT_EQ(pool.params, none.params);
  EXPECT_EQ(pool.flops, none.flops);
}

TEST(NasCostTest, Nb201OtherDatasets) {
  // cifar100 differs only in the classifier: 64*90 more weights and 90 more biases.
  NetworkCost c10 = Nb201Cost(*Nb201OpsOf(0), Nb201Dataset::kCifar10);
  NetworkCost c100 = Nb201Cost(*Nb201OpsOf(0), Nb201Dataset::kCifar100);
  EXPECT_EQ(c100.params - c10.params, 64 * 90 + 90);
  EXPECT_EQ(c100.flops - c10.flops, 64 * 90 + 90);
  // ImageNet16-120, all nor_conv_3x3, by hand: cells 3 stages x 5 x 6 x 9*C^2*H^2 with
  // (C,H) = (16,16), (32,8), (64,4) -> 53,084,160; stem 110,592; reductions 917,504 each;
  // classifier 64*120+120.
  NetworkCost im = Nb201Cost(AllOps(Nb201Op::kNorConv3x3), Nb201Dataset::kImageNet16_120);
  EXPECT_EQ(im.flops, 53084160 + 110592 + 2 * 917504 + 7800);
  EXPECT_EQ(im.params, 1531546 - 650 + 7800);
}

TEST(NasCostTest, Nb201Datasets) {
  EXPECT_EQ(*ParseNb201Dataset("ImageNet16-120"), Nb201Dataset::kImageNet16_120);
  EXPECT_EQ(*ParseNb201Dataset("CIFAR10"), Nb201Dataset::kCifar10);
  auto bad = ParseNb201Dataset("imagenet");
  EXPECT_EQ(bad.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(bad.status().message().find("ImageNet16-120"), std::string::npos);
  EXPECT_EQ(Nb201MacroOf(Nb201Dataset::kImageNet16_120).input_hw, 16);
  EXPECT_EQ(Nb201MacroOf(Nb201Dataset::kCifar100).num_classes, 100);
}

TEST(NasCostTest, FbnetLayerByHand) {
  const FbnetLayer l01 = {16, 24, 1, 32};
  // k3_e6: expand 16->96 (1536 w), depthwise 96x3x3 (864 w), project 96->24 (2304 w), three BNs
  // (2*96 + 2*96 + 2*24); every conv runs at 32x32.
  NetworkCost k3e6 = FbnetLayerCost(3, l01);
  EXPECT_EQ(k3e6.params, 1536 + 864 + 2304 + 192 + 192 + 48);
  EXPECT_EQ(k3e6.flops, (1536 + 864 + 2304) * 1024);
  // k5_e1_g2 on 24->32 stride 2 at 32: grouped 1x1s halve the weights; depthwise at 16x16.
  NetworkCost g2 = FbnetLayerCost(5, {24, 32, 2, 32});
  EXPECT_EQ(g2.params, 24 * 12 + 24 * 25 + 32 * 12 + 48 + 48 + 64);
  EXPECT_EQ(g2.flops, 24 * 12 * 1024 + 24 * 25 * 256 + 32 * 12 * 256);
  // skip: identity when shapes match, else 1x1 conv + BN.
  EXPECT_EQ(FbnetLayerCost(8, {16, 16, 1, 32}).params, 0);
  EXPECT_EQ(FbnetLayerCost(8, {16, 24, 1, 32}).params, 16 * 24 + 48);
  EXPECT_EQ(FbnetLayerCost(8, {16, 24, 1, 32}).flops, 16 * 24 * 1024);
}

TEST(NasCostTest, FbnetWholeNetworkAllSkip) {
  FbnetArch skip;
  skip.fill(kFbnetSkipCode);
  // Only the shape-changing layers (L01, L05, L09, L13, L17, L21) carry a 1x1 conv + BN.
  NetworkCost c = FbnetCost(skip, FbnetDataset::kCifar100);
  const int64_t stem = 3 * 16 * 9 + 32;
  const int64_t skips = (16 * 24 + 48) + (24 * 32 + 64) + (32 * 64 + 128) + (64 * 112 + 224) +
                        (112 * 184 + 368) + (184 * 352 + 704);
  const int64_t header = 352 * 1504 + 2 * 1504;
  const int64_t fc = 1504 * 100 + 100;
  EXPECT_EQ(c.params, stem + skips + header + fc);
  const int64_t flops = 3 * 16 * 9 * 1024 + 16 * 24 * 1024 + 24 * 32 * 256 + 32 * 64 * 64 +
                        64 * 112 * 64 + 112 * 184 * 16 + 184 * 352 * 16 + 352 * 1504 * 16 + fc;
  EXPECT_EQ(c.flops, flops);
}

}  // namespace
}  // namespace qlab::nas
