#include "evaluators/predictor/rank_metrics.h"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <vector>

namespace qlab::predictor {
namespace {

std::vector<double> AverageRanks(std::span<const double> v) {
  std::vector<size_t> order(v.size());
  std::iota(order.begin(), order.end(), 0);
  std::sort(order.begin(), order.end(), [&](size_t i, size_t j) { return v[i] < v[j]; });
  std::vector<double> rank(v.size());
  for (size_t i = 0; i < order.size();) {
    size_t j = i;
    while (j + 1 < order.size() && v[order[j + 1]] == v[order[i]]) ++j;
    const double r = 0.5 * static_cast<double>(i + j) + 1.0;
    for (size_t k = i; k <= j; ++k) rank[order[k]] = r;
    i = j + 1;
  }
  return rank;
}

double Pearson(const std::vector<double>& a, const std::vector<double>& b) {
  const double n = static_cast<double>(a.size());
  const double ma = std::accumulate(a.begin(), a.end(), 0.0) / n;
  const double mb = std::accumulate(b.begin(), b.end(), 0.0) / n;
  double sab = 0, saa = 0, sbb = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    sab += (a[i] - ma) * (b[i] - mb);
    saa += (a[i] - ma) * (a[i] - ma);
    sbb += (b[i] - mb) * (b[i] - mb);
  }
  return saa > 0 && sbb > 0 ? sab / std::sqrt(saa * sbb) : 0.0;
}

}  // namespace

double SpearmanRho(std::span<const double> a, std::span<const double> b) {
  if (a.size() != b.size() || a.size() < 2) return 0.0;
  return Pearson(AverageRanks(a), AverageRanks(b));
}

double KendallTauB(std::span<const double> a, std::span<const double> b) {
  if (a.size() != b.size() || a.size() < 2) return 0.0;
  // Counted in integers: exact for any n this is used with.
  long long concordant_minus_discordant = 0, untied_a = 0, untied_b = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    for (size_t j = i + 1; j < a.size(); ++j) {
      const int sa = (a[i] > a[j]) - (a[i] < a[j]);
      const int sb = (b[i] > b[j]) - (b[i] < b[j]);
      concordant_minus_discordant += sa * sb;
      untied_a += sa != 0;
      untied_b += sb != 0;
    }
  }
  if (untied_a == 0 || untied_b == 0) return 0.0;
  return static_cast<double>(concordant_minus_discordant) /
         std::sqrt(static_cast<double>(untied_a) * static_cast<double>(untied_b));
}

double MeanAbsPercentError(std::span<const double> predicted, std::span<const double> measured) {
  if (predicted.empty() || predicted.size() != measured.size()) return 0.0;
  double sum = 0;
  for (size_t i = 0; i < predicted.size(); ++i) {
    sum += std::fabs(predicted[i] - measured[i]) / measured[i];
  }
  return 100.0 * sum / static_cast<double>(predicted.size());
}

double PercentWithin(std::span<const double> predicted, std::span<const double> measured,
                     double tolerance) {
  if (predicted.empty() || predicted.size() != measured.size()) return 0.0;
  size_t within = 0;
  for (size_t i = 0; i < predicted.size(); ++i) {
    within += std::fabs(predicted[i] - measured[i]) <= tolerance * measured[i];
  }
  return 100.0 * static_cast<double>(within) / static_cast<double>(predicted.size());
}

}  // namespace qlab::predictor
