// SQNR and histogram KL (see metrics.h).
#include "evaluators/datatypes/metrics.h"

#include <cmath>

namespace qlab::datatypes {

double SqnrDb(double signal_energy, double error_energy) {
  if (error_energy <= 0) return kMaxSqnrDb;
  if (signal_energy <= 0) return -kMaxSqnrDb;
  return 10.0 * std::log10(signal_energy / error_energy);
}

double HistogramKl(const std::vector<int64_t>& p, const std::vector<int64_t>& q,
                   double smoothing) {
  const size_t bins = p.size();
  double p_total = 0, q_total = 0;
  for (size_t b = 0; b < bins; ++b) {
    p_total += static_cast<double>(p[b]) + smoothing;
    q_total += static_cast<double>(q[b]) + smoothing;
  }
  if (p_total <= 0 || q_total <= 0) return 0;
  double kl = 0;
  for (size_t b = 0; b < bins; ++b) {
    const double pb = (static_cast<double>(p[b]) + smoothing) / p_total;
    const double qb = (static_cast<double>(q[b]) + smoothing) / q_total;
    if (pb > 0) kl += pb * std::log(pb / qb);
  }
  return kl;
}

}  // namespace qlab::datatypes
