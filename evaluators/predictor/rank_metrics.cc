#include "evaluators/predictor/rank_metrics.h"

#include <cmath>

namespace qlab::predictor {

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
