// Tests of the CPU GEMV kernels: every format, every instruction-set path this CPU has (each
// forced in turn; paths it lacks are skipped with the reason), both activation modes, batch
// 1..8 and ragged row counts, against the double-precision reference of the datatype library's
// dequantized weights.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <random>
#include <string>
#include <tuple>
#include <vector>

#include "evaluators/kernels/cpu_gemv.h"
#include "evaluators/kernels/cpu_gemv_operands.h"
#include "evaluators/kernels/gemv_synthetic.h"

namespace qlab::kernels {
namespace {

std::vector<float> GaussianWeights(int64_t n, int64_t k, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> normal(0.0f, 0.02f);
  std::vector<float> w(n * k);
  for (float& v : w) v = normal(rng);
  // A few outliers, as real LLM weights have: they set group scales and test the extremes.
  for (int64_t i = 0; i < n * k; i += 997) w[i] *= 12.0f;
  return w;
}

// Runs the kernel on every row and compares with the reference of the mode's activations.
GemvComparison RunAndCompare(const CpuPackedMatrix& packed, int m, CpuIsa isa, ActivationMode mode,
                             int threads, uint64_t seed, std::vector<float>* y_out = nullptr) {
  const std::vector<float> x = SynthCpuActivations(m, packed.k, seed);
  std::vector<float> y(m * packed.n, NAN);
  CpuGemvOptions options{isa, mode, threads};
  CpuGemvWorkspace ws;
  const Status s = CpuGemv(packed.View(), x.data(), m, y.data(), options, &ws);
  EXPECT_TRUE(s.ok()) << s.ToString();
  const std::vector<float> x_used =
      mode == ActivationMode::kInt8 ? Int8ActivationValues(x.data(), m, packed.k) : x;
  const std::vector<float> w = DequantizeCpuRows(packed, AllRows(packed.n));
  const std::vector<double> ref = CpuReferenceGemv(w, packed.n, packed.k, x_used.data(), m);
  if (y_out != nullptr) *y_out = y;
  return CompareGemv(ref, y, kCpuGemvRelErrBound);
}

using PathCase = std::tuple<CpuIsa, CpuGemvFormat, ActivationMode>;

class CpuGemvPaths : public ::testing::TestWithParam<PathCase> {
 protected:
  void SetUp() override {
    if (!CpuIsaSupported(std::get<0>(GetParam()))) {
      GTEST_SKIP() << "this CPU (or build) has no " << CpuIsaName(std::get<0>(GetParam()))
                   << " path; it is tested where it exists";
    }
  }
};

TEST_P(CpuGemvPaths, QuantizedWeightsMatchReferenceForEveryBatchAndRaggedRows) {
  const auto [isa, format, mode] = GetParam();
  for (int64_t n : {1, 7, 67}) {
    for (int64_t k : {128, 384, 2560}) {
      const std::vector<float> w = GaussianWeights(n, k, static_cast<uint32_t>(n * 31 + k));
      const CpuPackedMatrix packed = PackCpuMatrix(format, w.data(), n, k).value();
      for (int m = 1; m <= kMaxCpuGemvBatch; ++m) {
        const GemvComparison c = RunAndCompare(packed, m, isa, mode, 2, 7 + m);
        EXPECT_TRUE(c.ok()) << "n=" << n << " k=" << k << " m=" << m << ": " << c.ToString();
      }
    }
  }
}

TEST_P(CpuGemvPaths, RandomCodesIncludingSpecialValuesAndSubnormalScales) {
  const auto [isa, format, mode] = GetParam();
  const CpuPackedMatrix packed = SynthCpuMatrix(format, 45, 1024, 11, 2);
  for (int m : {1, 3, 8}) {
    const GemvComparison c = RunAndCompare(packed, m, isa, mode, 2, 99);
    EXPECT_TRUE(c.ok()) << "m=" << m << ": " << c.ToString();
  }
}

TEST_P(CpuGemvPaths, SameBitsForAnyThreadCount) {
  const auto [isa, format, mode] = GetParam();
  const CpuPackedMatrix packed = SynthCpuMatrix(format, 2048, 256, 5, 2);
  std::vector<float> one, two;
  RunAndCompare(packed, 3, isa, mode, 1, 1, &one);
  RunAndCompare(packed, 3, isa, mode, 2, 1, &two);
  ASSERT_EQ(one.size(), two.size());
  EXPECT_EQ(std::memcmp(one.data(), two.data(), one.size() * sizeof(float)), 0);
}

std::string PathName(const ::testing::TestParamInfo<PathCase>& info) {
  return std::string(CpuIsaName(std::get<0>(info.param))) + "_" +
         CpuGemvFormatName(std::get<1>(info.param)) + "_" +
         ActivationModeName(std::get<2>(info.param));
}

INSTANTIATE_TEST_SUITE_P(CpuGemv, CpuGemvPaths,
                         ::testing::Combine(::testing::ValuesIn(kAllCpuIsas),
                                            ::testing::ValuesIn(kAllCpuGemvFormats),
                                            ::testing::Values(ActivationMode::kFp32,
                                                              ActivationMode::kInt8)),
                         PathName);

TEST(CpuGemv, SimdPathsAgreeWithThePortablePath) {
  for (CpuGemvFormat format : kAllCpuGemvFormats) {
    const CpuPackedMatrix packed = SynthCpuMatrix(format, 33, 640, 3, 1);
    for (ActivationMode mode : {ActivationMode::kFp32, ActivationMode::kInt8}) {
      std::vector<float> portable;
      RunAndCompare(packed, 5, CpuIsa::kPortable, mode, 1, 4, &portable);
      for (CpuIsa isa : kAllCpuIsas) {
        if (!CpuIsaSupported(isa)) continue;
        std::vector<float> y;
        RunAndCompare(packed, 5, isa, mode, 1, 4, &y);
        for (size_t i = 0; i < y.size(); ++i) {
          // The int8 mode's integer sums are exact on every path; FP32 sums differ in order only.
          ASSERT_NEAR(y[i], portable[i], 2e-5 * (1.0 + std::fabs(portable[i])))
              << CpuGemvFormatName(format) << " " << CpuIsaName(isa) << " "
              << ActivationModeName(mode) << " output " << i;
        }
      }
    }
  }
}

TEST(CpuGemv, Int8ActivationErrorIsSmallAndReported) {
  const int64_t k = 4096;
  const std::vector<float> x = SynthCpuActivations(2, k, 8);
  const std::vector<float> q = Int8ActivationValues(x.data(), 2, k);
  double num = 0, den = 0;
  for (int64_t i = 0; i < 2 * k; ++i) {
    num += (q[i] - x[i]) * (q[i] - x[i]);
    den += x[i] * x[i];
    ASSERT_LE(std::fabs(q[i] - x[i]), 2.0f / 127.0f);  // half a step of absmax/127, absmax < 2
  }
  EXPECT_GT(num, 0.0);  // it is an approximation, not a copy
  EXPECT_LT(std::sqrt(num / den), 0.02);
}

TEST(CpuGemv, ZeroActivationsGiveZeroInBothModes) {
  const CpuPackedMatrix packed = SynthCpuMatrix(CpuGemvFormat::kNvfp4, 9, 256, 2, 1);
  const std::vector<float> x(2 * 256, 0.0f);
  std::vector<float> y(2 * 9, 1.0f);
  for (ActivationMode mode : {ActivationMode::kFp32, ActivationMode::kInt8}) {
    ASSERT_TRUE(CpuGemv(packed.View(), x.data(), 2, y.data(), {BestCpuIsa(), mode, 1}, nullptr).ok());
    for (float v : y) EXPECT_EQ(v, 0.0f);
  }
}

TEST(CpuGemv, BadShapesAndPathsAreRefusedNamingTheField) {
  const CpuPackedMatrix packed = SynthCpuMatrix(CpuGemvFormat::kInt4Asym, 4, 256, 1, 1);
  std::vector<float> x(9 * 256), y(9 * 4);
  Status s = CpuGemv(packed.View(), x.data(), 9, y.data(), {}, nullptr);
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(s.message().find("batch m"), std::string::npos) << s.ToString();
  CpuWeights bad_k = packed.View();
  bad_k.k = 200;
  s = CpuGemv(bad_k, x.data(), 1, y.data(), {}, nullptr);
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(s.message().find("k must be"), std::string::npos) << s.ToString();
  CpuWeights missing = packed.View();
  missing.aux_words = nullptr;
  EXPECT_EQ(CpuGemv(missing, x.data(), 1, y.data(), {}, nullptr).code(), StatusCode::kInvalidArgument);
  for (CpuIsa isa : kAllCpuIsas) {
    if (CpuIsaSupported(isa)) continue;
    EXPECT_EQ(CpuGemv(packed.View(), x.data(), 1, y.data(), {isa, ActivationMode::kFp32, 1}, nullptr).code(),
              StatusCode::kFailedPrecondition);
  }
}

TEST(CpuGemv, NamesAndSizes) {
  for (CpuGemvFormat f : kAllCpuGemvFormats) EXPECT_EQ(*ParseCpuGemvFormat(CpuGemvFormatName(f)), f);
  EXPECT_EQ(*ParseCpuGemvFormat("razer_w4"), CpuGemvFormat::kRazerFp4);
  EXPECT_FALSE(ParseCpuGemvFormat("fp16_cublas").has_value());
  for (CpuIsa isa : kAllCpuIsas) EXPECT_EQ(*ParseCpuIsa(CpuIsaName(isa)), isa);
  EXPECT_TRUE(CpuIsaSupported(CpuIsa::kPortable));
  // Bytes agree with bits per weight (metadata words round up per row).
  for (CpuGemvFormat f : kAllCpuGemvFormats) {
    const int64_t n = 4096, k = 4096;
    const double bits = 8.0 * static_cast<double>(CpuGemvWeightBytes(f, n, k)) / (n * k);
    EXPECT_NEAR(bits, CpuGemvBitsPerWeight(f), 0.01) << CpuGemvFormatName(f);
    const CpuPackedMatrix m = SynthCpuMatrix(f, 16, 1024, 1, 1);
    const int64_t held = m.qweight.size() + 2 * m.scales_fp16.size() + 4 * m.aux_words.size() +
                         m.aux_bytes.size() + (f == CpuGemvFormat::kNvfp4 ? 4 : 0);
    EXPECT_EQ(held, CpuGemvWeightBytes(f, 16, 1024)) << CpuGemvFormatName(f);
  }
}

}  // namespace
}  // namespace qlab::kernels
