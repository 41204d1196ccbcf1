// The fused evaluation pass (metrics against a naive recomputation, thread independence,
// cancellation), histogram KL, SQNR, and the synthetic tensor sources.
#include "evaluators/datatypes/evaluate.h"

#include <cmath>
#include <vector>

#include <gtest/gtest.h>

#include "evaluators/datatypes/metrics.h"
#include "evaluators/datatypes/synthetic.h"

namespace qlab::datatypes {
namespace {

std::vector<float> Gaussian(int64_t rows, int64_t cols, uint64_t seed = 1) {
  SyntheticSpec spec;
  spec.rows = rows;
  spec.cols = cols;
  spec.seed = seed;
  return GenerateSynthetic(spec).value();
}

TEST(Evaluate, MetricsMatchNaiveRecomputation) {
  const int64_t rows = 24, cols = 256;
  const std::vector<float> w = Gaussian(rows, cols);
  for (Datatype t : {Datatype::kInt4Asym, Datatype::kE2M1, Datatype::kNf4, Datatype::kInt8Sym}) {
    Quantizer q = Quantizer::Create(t, {}).value();
    QuantizationReport r = EvaluateQuantization(q, w.data(), rows, cols).value();
    std::vector<float> deq = DequantizeTensor(q, QuantizeTensor(q, w.data(), rows, cols).value());
    double err = 0, sig = 0, max_err = 0;
    for (size_t i = 0; i < w.size(); ++i) {
      const double d = static_cast<double>(w[i]) - deq[i];
      err += d * d;
      sig += static_cast<double>(w[i]) * w[i];
      max_err = std::max(max_err, std::fabs(d));
    }
    EXPECT_NEAR(r.mse, err / w.size(), 1e-6 * r.mse) << GetTraits(t).name;
    EXPECT_NEAR(r.sqnr_db, 10 * std::log10(sig / err), 1e-4);
    EXPECT_FLOAT_EQ(r.max_abs_err, max_err);
    EXPECT_EQ(r.num_weights, rows * cols);
    EXPECT_EQ(r.group_size, 128);
    EXPECT_DOUBLE_EQ(r.bits_per_weight, BitsPerWeight(GetTraits(t), 128));
    EXPECT_GT(r.kl, 0);
    ASSERT_EQ(r.bit_zero_fraction.size(), static_cast<size_t>(GetTraits(t).payload_bits));
    EXPECT_GT(r.bit_sparsity, 0);
    EXPECT_LT(r.bit_sparsity, 1);
  }
}

TEST(Evaluate, KlAndBitPlanesMatchNaiveCounts) {
  const int64_t rows = 8, cols = 512;
  const std::vector<float> w = Gaussian(rows, cols, 5);
  for (Datatype t : {Datatype::kE2M1, Datatype::kInt8Asym, Datatype::kFp16, Datatype::kNvfp4}) {
    Quantizer q = Quantizer::Create(t, {}).value();
    QuantizationReport r = EvaluateQuantization(q, w.data(), rows, cols).value();
    QuantizedTensor qt = QuantizeTensor(q, w.data(), rows, cols).value();
    std::vector<float> deq = DequantizeTensor(q, qt);
    const float range = r.tensor_absmax;
    std::vector<int64_t> hw(kKlBins, 0), hq(kKlBins, 0);
    for (size_t i = 0; i < w.size(); ++i) {
      ++hw[HistogramBin(w[i], range, kKlBins)];
      ++hq[HistogramBin(deq[i], range, kKlBins)];
    }
    EXPECT_DOUBLE_EQ(r.kl, HistogramKl(hw, hq)) << GetTraits(t).name;
    const int bits = GetTraits(t).payload_bits;
    for (int b = 0; b < bits; ++b) {
      int64_t zeros = 0;
      for (uint16_t c : qt.codes) zeros += ((c >> b) & 1) == 0;
      EXPECT_DOUBLE_EQ(r.bit_zero_fraction[b], static_cast<double>(zeros) / w.size())
          << GetTraits(t).name << " plane " << b;
    }
  }
}

TEST(Evaluate, SqnrOrdersBitWidths) {
  const std::vector<float> w = Gaussian(16, 512);
  double last = -1;
  for (Datatype t : {Datatype::kInt2Asym, Datatype::kInt3Asym, Datatype::kInt4Asym,
                     Datatype::kInt6Asym, Datatype::kInt8Asym}) {
    Quantizer q = Quantizer::Create(t, {}).value();
    const double sqnr = EvaluateQuantization(q, w.data(), 16, 512).value().sqnr_db;
    EXPECT_GT(sqnr, last + 4) << GetTraits(t).name;  // roughly 6 dB per bit
    last = sqnr;
  }
  // 4-bit asymmetric INT on Gaussian weights at g128: about 20 dB.
  Quantizer q = Quantizer::Create(Datatype::kInt4Asym, {}).value();
  const double sqnr = EvaluateQuantization(q, w.data(), 16, 512).value().sqnr_db;
  EXPECT_GT(sqnr, 17);
  EXPECT_LT(sqnr, 23);
}

TEST(Evaluate, SameReportForAnyThreadCount) {
  const std::vector<float> w = Gaussian(64, 1024, 7);
  Quantizer q = Quantizer::Create(Datatype::kE2M1, {}).value();
  EvaluateOptions one, two;
  one.num_threads = 1;
  two.num_threads = 2;
  QuantizationReport a = EvaluateQuantization(q, w.data(), 64, 1024, one).value();
  QuantizationReport b = EvaluateQuantization(q, w.data(), 64, 1024, two).value();
  EXPECT_EQ(a.mse, b.mse);
  EXPECT_EQ(a.kl, b.kl);
  EXPECT_EQ(a.max_abs_err, b.max_abs_err);
  EXPECT_EQ(a.bit_zero_fraction, b.bit_zero_fraction);
}

TEST(Evaluate, CancelledContextStops) {
  const std::vector<float> w = Gaussian(64, 256);
  Quantizer q = Quantizer::Create(Datatype::kE2M1, {}).value();
  JobContext context;
  context.Cancel();
  EvaluateOptions options;
  options.context = &context;
  EXPECT_EQ(EvaluateQuantization(q, w.data(), 64, 256, options).status().code(),
            StatusCode::kCancelled);
  JobContext live;
  options.context = &live;
  EXPECT_TRUE(EvaluateQuantization(q, w.data(), 64, 256, options).ok());
  EXPECT_EQ(live.progress(), 1.0);
}

TEST(Evaluate, RejectsNonFiniteAndBadShapes) {
  std::vector<float> w = Gaussian(2, 128);
  w[10] = NAN;
  Quantizer q = Quantizer::Create(Datatype::kInt4Asym, {}).value();
  Status s = EvaluateQuantization(q, w.data(), 2, 128).status();
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(s.message().find("1 NaN"), std::string::npos);
  EXPECT_EQ(EvaluateQuantization(q, w.data(), 0, 128).status().code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(EvaluateQuantization(q, w.data(), 1, 96).status().code(),
            StatusCode::kInvalidArgument);
  std::vector<float> big(128, 1.0f);
  big[3] = 70000.0f;  // beyond FP16; scaled formats saturate their scale instead
  Quantizer fp16 = Quantizer::Create(Datatype::kFp16, {}).value();
  EXPECT_EQ(EvaluateQuantization(fp16, big.data(), 1, 128).status().code(),
            StatusCode::kInvalidArgument);
  EXPECT_TRUE(EvaluateQuantization(q, big.data(), 1, 128).ok());
}

TEST(Metrics, KlAndSqnr) {
  const std::vector<int64_t> p = {10, 0, 5, 5}, same = p;
  EXPECT_DOUBLE_EQ(HistogramKl(p, same), 0.0);
  // Without smoothing: P = (1/2, 1/2), Q = (1/4, 3/4): KL = 1/2 ln 2 + 1/2 ln(2/3).
  EXPECT_NEAR(HistogramKl({1, 1}, {1, 3}, 0.0), 0.5 * std::log(2.0) + 0.5 * std::log(2.0 / 3),
              1e-12);
  EXPECT_GT(HistogramKl({100, 0}, {0, 100}), 1.0);
  EXPECT_DOUBLE_EQ(SqnrDb(100, 1), 20.0);
  EXPECT_EQ(SqnrDb(1, 0), kMaxSqnrDb);
  EXPECT_EQ(HistogramBin(-1.0f, 1.0f, 256), 0);
  EXPECT_EQ(HistogramBin(1.0f, 1.0f, 256), 255);
  EXPECT_EQ(HistogramBin(0.0f, 1.0f, 256), 128);
  EXPECT_EQ(HistogramBin(5.0f, 0.0f, 256), 128);
}

double Mean(const std::vector<float>& v) {
  double s = 0;
  for (float x : v) s += x;
  return s / v.size();
}
double Variance(const std::vector<float>& v) {
  const double m = Mean(v);
  double s = 0;
  for (float x : v) s += (x - m) * (x - m);
  return s / v.size();
}

TEST(Synthetic, MomentsMatchTheDistributions) {
  SyntheticSpec spec;
  spec.rows = 64;
  spec.cols = 4096;
  spec.seed = 3;
  std::vector<float> g = GenerateSynthetic(spec).value();
  EXPECT_NEAR(Mean(g), 0, 0.01);
  EXPECT_NEAR(Variance(g), 1, 0.02);
  spec.distribution = Distribution::kLaplace;
  std::vector<float> l = GenerateSynthetic(spec).value();
  EXPECT_NEAR(Variance(l), 2, 0.05);
  spec.distribution = Distribution::kStudentT;
  spec.nu = 5;
  std::vector<float> t = GenerateSynthetic(spec).value();
  EXPECT_NEAR(Variance(t), 5.0 / 3, 0.1);
  // Heavier tails: a larger share beyond 4 standard deviations than the Gaussian.
  auto share_beyond = [](const std::vector<float>& v, double k) {
    const double sd = std::sqrt(Variance(v));
    int64_t n = 0;
    for (float x : v) n += std::fabs(x) > k * sd;
    return static_cast<double>(n) / v.size();
  };
  EXPECT_GT(share_beyond(t, 4), 5 * share_beyond(g, 4));
}

TEST(Synthetic, DeterministicPerRowAndThreadIndependent) {
  SyntheticSpec spec;
  spec.distribution = Distribution::kStudentT;
  spec.rows = 8;
  spec.cols = 1000;
  spec.seed = 42;
  std::vector<float> a = GenerateSynthetic(spec, 1).value();
  std::vector<float> b = GenerateSynthetic(spec, 4).value();
  EXPECT_EQ(a, b);
  spec.rows = 3;  // the first rows do not depend on the row count
  std::vector<float> c = GenerateSynthetic(spec).value();
  EXPECT_TRUE(std::equal(c.begin(), c.end(), a.begin()));
  spec.seed = 43;
  EXPECT_NE(GenerateSynthetic(spec).value(), c);
}

TEST(Synthetic, OutliersScaleAShareOfElementsAndKeepTheRest) {
  SyntheticSpec spec;
  spec.rows = 16;
  spec.cols = 1024;
  spec.seed = 9;
  std::vector<float> base = GenerateSynthetic(spec).value();
  spec.outlier_fraction = 0.01;
  spec.outlier_scale = 20;
  std::vector<float> out = GenerateSynthetic(spec).value();
  int64_t changed = 0;
  for (size_t i = 0; i < base.size(); ++i) {
    if (out[i] != base[i]) {
      ++changed;
      EXPECT_FLOAT_EQ(out[i], base[i] * 20);
    }
  }
  EXPECT_NEAR(static_cast<double>(changed) / base.size(), 0.01, 0.003);
}

TEST(Synthetic, BadSpecs) {
  SyntheticSpec spec;
  spec.rows = 0;
  spec.cols = 10;
  EXPECT_EQ(GenerateSynthetic(spec).status().code(), StatusCode::kInvalidArgument);
  spec.rows = 1 << 20;
  spec.cols = 1 << 20;
  EXPECT_EQ(GenerateSynthetic(spec).status().code(), StatusCode::kInvalidArgument);
  spec.rows = 2;
  spec.cols = 2;
  spec.nu = 0;
  EXPECT_EQ(GenerateSynthetic(spec).status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(ParseDistribution("normal").status().code(), StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace qlab::datatypes
