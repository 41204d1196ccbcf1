// How well predicted latencies match measured ones: the figures latency-predictor papers
// report (HELP, BRP-NAS, HW-NAS-Bench), so a qlab number compares with theirs. Spearman's rho
// is latency::SpearmanRho (evaluators/latency/sample_stats.h), which the protocol checks use.
#pragma once

#include <span>

namespace qlab::predictor {

// Kendall's tau-b (tie-corrected). O(n^2): about a second at n = 15,625. 0 when n < 2 or either
// side is constant.
double KendallTauB(std::span<const double> a, std::span<const double> b);

// Mean absolute percentage error of `predicted` against `measured`, in percent.
double MeanAbsPercentError(std::span<const double> predicted, std::span<const double> measured);

// Percentage of predictions within +-`tolerance` (relative, e.g. 0.1) of the measurement.
double PercentWithin(std::span<const double> predicted, std::span<const double> measured,
                     double tolerance);

}  // namespace qlab::predictor
