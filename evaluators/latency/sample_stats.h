// Statistics over latency samples: the per-set summary the protocol reports (median, p10, p90,
// min, mean, stddev, CV) and the run-to-run comparisons used to check the protocol itself
// (Spearman rho, median absolute percentage difference). Pure functions, thread-safe.
#pragma once

#include <vector>

namespace qlab::latency {

struct SampleSummary {
  int n = 0;
  double median = 0, mean = 0, p10 = 0, p90 = 0, min = 0, max = 0;
  double stddev = 0;  // sample standard deviation (n - 1 in the denominator); 0 when n < 2
  double cv = 0;      // stddev / mean; 0 when the mean is 0
};

// Summarises `samples` (any unit; the summary keeps it). All zeros when `samples` is empty.
SampleSummary Summarize(const std::vector<double>& samples);

// The q-quantile (0 <= q <= 1) of ascending `sorted` with linear interpolation between closest
// ranks (numpy's default): position q * (n - 1). REQUIRES: `sorted` is non-empty and ascending.
double QuantileOfSorted(const std::vector<double>& sorted, double q);

// Spearman rank correlation of two equally long series; ties get their average rank (Pearson
// on ranks). Returns 0 when n < 2 or either series is constant. REQUIRES: a.size() == b.size().
double SpearmanRho(const std::vector<double>& a, const std::vector<double>& b);

// Median over i of |a[i] - b[i]| / ((a[i] + b[i]) / 2), as a fraction (0.03 = 3 %). Symmetric in
// a and b. Pairs whose mean is 0 are skipped. 0 when no pair remains.
// REQUIRES: a.size() == b.size().
double MedianAbsRelativeDiff(const std::vector<double>& a, const std::vector<double>& b);

}  // namespace qlab::latency
