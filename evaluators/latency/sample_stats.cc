// Sample statistics. Two-pass variance: latency samples are all of similar magnitude, but the
// two-pass form costs nothing and avoids cancellation for long sets.
#include "evaluators/latency/sample_stats.h"

#include <algorithm>
#include <cmath>
#include <numeric>

namespace qlab::latency {
namespace {

// Average ranks (1-based) with ties sharing the mean of their positions.
std::vector<double> Ranks(const std::vector<double>& v) {
  std::vector<size_t> order(v.size());
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](size_t x, size_t y) { return v[x] < v[y]; });
  std::vector<double> ranks(v.size());
  size_t i = 0;
  while (i < order.size()) {
    size_t j = i;
    while (j + 1 < order.size() && v[order[j + 1]] == v[order[i]]) ++j;
    const double rank = (static_cast<double>(i) + static_cast<double>(j)) / 2.0 + 1.0;
    for (size_t k = i; k <= j; ++k) ranks[order[k]] = rank;
    i = j + 1;
  }
  return ranks;
}

}  // namespace

double QuantileOfSorted(const std::vector<double>& sorted, double q) {
  const double pos = q * static_cast<double>(sorted.size() - 1);
  const size_t lo = static_cast<size_t>(std::floor(pos));
  const size_t hi = std::min(lo + 1, sorted.size() - 1);
  const double frac = pos - static_cast<double>(lo);
  return sorted[lo] + (sorted[hi] - sorted[lo]) * frac;
}

SampleSummary Summarize(const std::vector<double>& samples) {
  SampleSummary s;
  if (samples.empty()) return s;
  std::vector<double> sorted = samples;
  std::sort(sorted.begin(), sorted.end());
  s.n = static_cast<int>(sorted.size());
  s.min = sorted.front();
  s.max = sorted.back();
  s.median = QuantileOfSorted(sorted, 0.5);
  s.p10 = QuantileOfSorted(sorted, 0.1);
  s.p90 = QuantileOfSorted(sorted, 0.9);
  s.mean = std::accumulate(sorted.begin(), sorted.end(), 0.0) / s.n;
  if (s.n > 1) {
    double ss = 0;
    for (double x : sorted) ss += (x - s.mean) * (x - s.mean);
    s.stddev = std::sqrt(ss / (s.n - 1));
  }
  s.cv = s.mean != 0 ? s.stddev / s.mean : 0;
  return s;
}

double SpearmanRho(const std::vector<double>& a, const std::vector<double>& b) {
  const size_t n = a.size();
  if (n < 2 || b.size() != n) return 0;
  const std::vector<double> ra = Ranks(a), rb = Ranks(b);
  const double mean = (static_cast<double>(n) + 1.0) / 2.0;  // mean rank, ties included
  double sab = 0, saa = 0, sbb = 0;
  for (size_t i = 0; i < n; ++i) {
    sab += (ra[i] - mean) * (rb[i] - mean);
    saa += (ra[i] - mean) * (ra[i] - mean);
    sbb += (rb[i] - mean) * (rb[i] - mean);
  }
  if (saa == 0 || sbb == 0) return 0;
  return sab / std::sqrt(saa * sbb);
}

double MedianAbsRelativeDiff(const std::vector<double>& a, const std::vector<double>& b) {
  std::vector<double> diffs;
  for (size_t i = 0; i < a.size() && i < b.size(); ++i) {
    const double mid = (a[i] + b[i]) / 2.0;
    if (mid != 0) diffs.push_back(std::fabs(a[i] - b[i]) / std::fabs(mid));
  }
  if (diffs.empty()) return 0;
  std::sort(diffs.begin(), diffs.end());
  return QuantileOfSorted(diffs, 0.5);
}

}  // namespace qlab::latency
