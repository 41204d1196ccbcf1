// Student-t CDF / quantile and the SF4 table (see student_t.h).
#include "evaluators/datatypes/student_t.h"

#include <algorithm>
#include <cmath>
#include <vector>

namespace qlab::datatypes {
namespace {

// Continued fraction of the incomplete beta function (modified Lentz).
double BetaContinuedFraction(double a, double b, double x) {
  constexpr int kMaxIterations = 1000;
  constexpr double kEps = 1e-16, kTiny = 1e-300;
  const double qab = a + b, qap = a + 1, qam = a - 1;
  double c = 1, d = 1 - qab * x / qap;
  if (std::fabs(d) < kTiny) d = kTiny;
  d = 1 / d;
  double h = d;
  for (int m = 1; m <= kMaxIterations; ++m) {
    const int m2 = 2 * m;
    double aa = m * (b - m) * x / ((qam + m2) * (a + m2));
    d = 1 + aa * d;
    if (std::fabs(d) < kTiny) d = kTiny;
    c = 1 + aa / c;
    if (std::fabs(c) < kTiny) c = kTiny;
    d = 1 / d;
    h *= d * c;
    aa = -(a + m) * (qab + m) * x / ((a + m2) * (qap + m2));
    d = 1 + aa * d;
    if (std::fabs(d) < kTiny) d = kTiny;
    c = 1 + aa / c;
    if (std::fabs(c) < kTiny) c = kTiny;
    d = 1 / d;
    const double del = d * c;
    h *= del;
    if (std::fabs(del - 1) < kEps) break;
  }
  return h;
}

// Regularised incomplete beta I_x(a, b).
double IncompleteBeta(double a, double b, double x) {
  if (x <= 0) return 0;
  if (x >= 1) return 1;
  const double log_front =
      std::lgamma(a + b) - std::lgamma(a) - std::lgamma(b) + a * std::log(x) + b * std::log1p(-x);
  const double front = std::exp(log_front);
  if (x < (a + 1) / (a + b + 2)) return front * BetaContinuedFraction(a, b, x) / a;
  return 1 - front * BetaContinuedFraction(b, a, 1 - x) / b;
}

}  // namespace

double StudentTCdf(double t, double nu) {
  const double x = nu / (nu + t * t);
  const double tail = 0.5 * IncompleteBeta(nu / 2, 0.5, x);
  return t > 0 ? 1 - tail : tail;
}

double StudentTQuantile(double p, double nu) {
  if (p == 0.5) return 0;
  if (p < 0.5) return -StudentTQuantile(1 - p, nu);
  double lo = 0, hi = 1;
  while (StudentTCdf(hi, nu) < p && hi < 1e300) hi *= 2;
  for (int i = 0; i < 200 && hi - lo > 1e-15 * hi; ++i) {
    const double mid = 0.5 * (lo + hi);
    (StudentTCdf(mid, nu) < p ? lo : hi) = mid;
  }
  return 0.5 * (lo + hi);
}

std::array<float, 16> StudentFloatValues(double nu) {
  constexpr double kOffset = 0.9677083;
  std::vector<double> v;
  for (int i = 0; i < 8; ++i) v.push_back(StudentTQuantile(kOffset + i * (0.5 - kOffset) / 8, nu));
  for (int i = 0; i < 7; ++i) {
    v.push_back(-StudentTQuantile(kOffset + i * (0.5 - kOffset) / 7, nu));
  }
  v.push_back(0);
  std::sort(v.begin(), v.end());
  const double max = v.back();
  std::array<float, 16> out;
  for (int i = 0; i < 16; ++i) out[i] = static_cast<float>(v[i] / max);
  return out;
}

}  // namespace qlab::datatypes
