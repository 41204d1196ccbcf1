// Error metrics shared by the quantize job and the benchmarks: SQNR, histogram KL divergence and
// the accumulators they are built from. Pure functions; thread-safe.
#pragma once

#include <cstdint>
#include <vector>

namespace qlab::datatypes {

// SQNR reported when the error is exactly zero (a double Inf would not survive JSON or SQLite);
// far above anything float32 weights can show (~150 dB).
inline constexpr double kMaxSqnrDb = 300.0;

// 10 * log10(signal_energy / error_energy). kMaxSqnrDb when error_energy == 0 (including an
// all-zero signal), and -kMaxSqnrDb when only the signal is zero.
double SqnrDb(double signal_energy, double error_energy);

// Number of histogram bins used for the `kl` metric.
inline constexpr int kKlBins = 256;
// Additive smoothing per bin: an empty bin of Q must not make KL infinite (quantised tensors
// leave most bins empty), and a fixed pseudo-count keeps the value comparable between runs.
inline constexpr double kKlSmoothing = 0.5;

// KL(P || Q) in nats between two histograms with the same bins, after adding `smoothing` to
// every bin of both. 0 for two empty histograms. REQUIRES: p.size() == q.size().
double HistogramKl(const std::vector<int64_t>& p, const std::vector<int64_t>& q,
                   double smoothing = kKlSmoothing);

// Bin of v in a histogram of `bins` equal bins over [-range, range]; values outside go to the
// edge bins. range == 0 puts everything in the middle bin.
inline int HistogramBin(float v, float range, int bins) {
  if (!(range > 0)) return bins / 2;
  const float pos = (v + range) * (static_cast<float>(bins) / (2.0f * range));
  int b = static_cast<int>(pos);
  if (pos < 0) b = 0;
  return b < 0 ? 0 : (b >= bins ? bins - 1 : b);
}

}  // namespace qlab::datatypes
