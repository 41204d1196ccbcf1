// CPU reference GEMV and output comparison (see gemv_reference.h).
#include "evaluators/kernels/gemv_reference.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <thread>

#include "evaluators/datatypes/minifloat.h"

namespace qlab::kernels {
namespace {

// y[b, i] = sum_k w[i, k] * x[b, k] over a dense float W [n, k].
template <class T>
std::vector<double> DenseGemv(const std::vector<T>& w, int64_t n, int64_t k, const uint16_t* x,
                              int m) {
  std::vector<double> xd(static_cast<size_t>(m) * k);
  for (size_t i = 0; i < xd.size(); ++i) xd[i] = datatypes::Fp16BitsToFloat(x[i]);
  std::vector<double> y(static_cast<size_t>(m) * n, 0.0);
  auto rows = [&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i) {
      const T* row = w.data() + i * k;
      for (int b = 0; b < m; ++b) {
        const double* xb = xd.data() + static_cast<size_t>(b) * k;
        double sum = 0.0;
        for (int64_t j = 0; j < k; ++j) sum += static_cast<double>(row[j]) * xb[j];
        y[static_cast<size_t>(b) * n + i] = sum;
      }
    }
  };
  // Large references (the GPU checks) use every core; each thread owns a block of rows.
  const int64_t work = n * k * m;
  const int threads = work < (int64_t{1} << 24)
                          ? 1
                          : static_cast<int>(std::clamp<int64_t>(
                                std::thread::hardware_concurrency(), 1, std::min<int64_t>(n, 64)));
  if (threads == 1) {
    rows(0, n);
    return y;
  }
  std::vector<std::thread> pool;
  for (int t = 0; t < threads; ++t) pool.emplace_back(rows, n * t / threads, n * (t + 1) / threads);
  for (std::thread& th : pool) th.join();
  return y;
}

}  // namespace

std::vector<double> ReferenceGemv(const datatypes::PackedRazerW4& w, const uint16_t* x, int m) {
  return DenseGemv(datatypes::Dequantize(w), w.n, w.k, x, m);
}
std::vector<double> ReferenceGemv(const datatypes::PackedInt4Asym& w, const uint16_t* x, int m) {
  return DenseGemv(datatypes::Dequantize(w), w.n, w.k, x, m);
}
std::vector<double> ReferenceGemv(const datatypes::PackedNvfp4& w, const uint16_t* x, int m) {
  return DenseGemv(datatypes::Dequantize(w), w.n, w.k, x, m);
}

std::vector<double> ReferenceGemvFp16(const uint16_t* w, int64_t n, int64_t k, const uint16_t* x,
                                      int m) {
  std::vector<float> wf(static_cast<size_t>(n) * k);
  for (size_t i = 0; i < wf.size(); ++i) wf[i] = datatypes::Fp16BitsToFloat(w[i]);
  return DenseGemv(wf, n, k, x, m);
}

std::string GemvComparison::ToString() const {
  char buf[200];
  std::snprintf(buf, sizeof(buf),
                "max_rel_err=%.3g (bound %.1g) max_abs_err=%.3g ref_rms=%.3g worst=%lld "
                "non_finite=%lld",
                max_rel_err, bound, max_abs_err, ref_rms,
                static_cast<long long>(worst_index), static_cast<long long>(non_finite));
  return buf;
}

namespace {

template <class T, class ToDouble>
GemvComparison CompareOutputs(const std::vector<double>& ref, const std::vector<T>& got,
                              double bound, ToDouble to_double) {
  GemvComparison c;
  c.bound = bound;
  if (ref.size() != got.size() || ref.empty()) {
    c.non_finite = static_cast<int64_t>(std::max(ref.size(), got.size()));
    return c;
  }
  double sum_sq = 0.0;
  for (double v : ref) sum_sq += v * v;
  c.ref_rms = std::sqrt(sum_sq / static_cast<double>(ref.size()));
  const double floor = c.ref_rms > 0 ? c.ref_rms : 1e-30;
  for (size_t i = 0; i < ref.size(); ++i) {
    const double g = to_double(got[i]);
    if (!std::isfinite(g)) {
      ++c.non_finite;
      continue;
    }
    const double abs_err = std::fabs(g - ref[i]);
    const double rel = abs_err / std::max(std::fabs(ref[i]), floor);
    c.max_abs_err = std::max(c.max_abs_err, abs_err);
    if (rel > c.max_rel_err || c.worst_index < 0) {
      c.max_rel_err = rel;
      c.worst_index = static_cast<int64_t>(i);
    }
  }
  return c;
}

}  // namespace

GemvComparison CompareGemv(const std::vector<double>& ref, const std::vector<uint16_t>& got) {
  return CompareOutputs(ref, got, kGemvRelErrBound,
                        [](uint16_t h) { return double{datatypes::Fp16BitsToFloat(h)}; });
}

GemvComparison CompareGemv(const std::vector<double>& ref, const std::vector<float>& got,
                           double bound) {
  return CompareOutputs(ref, got, bound, [](float f) { return double{f}; });
}

}  // namespace qlab::kernels
