// Hardware-cost model: the calibration point, operand shapes of known formats, and orderings
// every reasonable model must respect.
#include "evaluators/datatypes/hw_cost.h"

#include <gtest/gtest.h>

namespace qlab::datatypes {
namespace {

HardwareCost Cost(Datatype t, int64_t g = 128) {
  return EstimateHardwareCost(Quantizer::Create(t, {}).value(), g);
}

TEST(HwCost, CalibratedToTheSupernormalOverhead) {
  EXPECT_DOUBLE_EQ(Cost(Datatype::kE2M1).relative, 1.0);
  EXPECT_NEAR(Cost(Datatype::kE2M1Sp).relative, 1.0 + kSupernormalAreaOverhead, 1e-12);
  EXPECT_GT(Cost(Datatype::kE2M1).fixed_fae, 0);
}

TEST(HwCost, OperandShapes) {
  HardwareCost e2m1 = Cost(Datatype::kE2M1);
  EXPECT_TRUE(e2m1.float_operand);
  EXPECT_EQ(e2m1.operand_sig_bits, 2);
  EXPECT_EQ(e2m1.operand_exp_bits, 2);
  EXPECT_FALSE(e2m1.lut_decoder);
  EXPECT_EQ(e2m1.special_value_fae, 0);
  HardwareCost int4 = Cost(Datatype::kInt4Sym);
  EXPECT_FALSE(int4.float_operand);
  EXPECT_EQ(int4.operand_sig_bits, 3);
  HardwareCost nf4 = Cost(Datatype::kNf4);
  EXPECT_TRUE(nf4.lut_decoder);  // irrational levels: a table of FP16 values
  EXPECT_EQ(nf4.operand_sig_bits, 11);
  HardwareCost razer = Cost(Datatype::kRazerFp4);
  EXPECT_EQ(razer.operand_sig_bits, 3);  // 5 = 1.01b * 2^2
  EXPECT_EQ(razer.operand_exp_bits, 3);  // 0.5 .. 8
  EXPECT_GT(razer.special_value_fae, Cost(Datatype::kE2M1Sp).special_value_fae);  // 4 SVs
  EXPECT_FALSE(Cost(Datatype::kE3M0).lut_decoder);  // regular E3M0
  EXPECT_TRUE(Cost(Datatype::kE1M2).lut_decoder);   // SF's E1M2 table is not a plain minifloat
  HardwareCost fp8 = Cost(Datatype::kFp8E4M3);
  EXPECT_EQ(fp8.operand_sig_bits, 4);
  HardwareCost fp16 = Cost(Datatype::kFp16);
  EXPECT_EQ(fp16.operand_sig_bits, 11);
}

TEST(HwCost, Orderings) {
  EXPECT_LT(Cost(Datatype::kInt4Sym).relative, Cost(Datatype::kInt8Sym).relative);
  EXPECT_LT(Cost(Datatype::kInt4Sym).relative, Cost(Datatype::kInt4Asym).relative);
  EXPECT_LT(Cost(Datatype::kE2M1).relative, Cost(Datatype::kNf4).relative);
  EXPECT_LT(Cost(Datatype::kE2M1).relative, Cost(Datatype::kRazerFp4).relative);
  EXPECT_LT(Cost(Datatype::kFp8E4M3).relative, Cost(Datatype::kFp16).relative);
  EXPECT_LT(Cost(Datatype::kFp3).relative, Cost(Datatype::kE2M1).relative);
  // Smaller groups amortise the scale multiply over fewer weights.
  EXPECT_LT(Cost(Datatype::kE2M1, 128).relative, Cost(Datatype::kE2M1, 32).relative);
}

}  // namespace
}  // namespace qlab::datatypes
