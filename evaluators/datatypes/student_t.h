// Student-t distribution functions (CDF, quantile) and the Student Float (SF4) value table
// derived from them, for sf4 with a user-chosen nu. Double precision; pure; thread-safe.
#pragma once

#include <array>

namespace qlab::datatypes {

// P(T <= t) for Student-t with nu > 0 degrees of freedom (regularised incomplete beta,
// continued fraction; absolute error below 1e-13).
double StudentTCdf(double t, double nu);

// The t with StudentTCdf(t, nu) == p, for p in (0, 1) (bisection to double precision).
double StudentTQuantile(double p, double nu);

// SF4's 16 values for `nu`, sorted ascending, normalised to [-1, 1]: the bitsandbytes NF4 recipe
// with Student-t quantiles (reference/datatypes.md section 5): offset = 0.9677083,
// pos = ppf(linspace(offset, 0.5, 9)[:-1]), neg = -ppf(linspace(offset, 0.5, 8)[:-1]), plus 0,
// divided by the largest. nu = 5 reproduces the published SF4_5 table to 6 decimals.
std::array<float, 16> StudentFloatValues(double nu);

}  // namespace qlab::datatypes
