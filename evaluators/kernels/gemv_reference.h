// CPU reference GEMV for every kernel, and the comparison every kernel test uses.
//
// The reference dequantizes W with the datatype library (datatypes::Dequantize, written from
// docs/packed-layouts.md independently of the kernels' bit tricks), reads x as exact FP16
// values, and accumulates in double: it is the "true" y before the final FP16 rounding.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "evaluators/datatypes/packing.h"

namespace qlab::kernels {

// y[b * n + i] = sum_k W[i, k] * x[b, k] in double, for W's n rows (W may be a subset of rows
// of a larger matrix, see gemv_synthetic.h). x is FP16 bits [m, k] (k = W's k).
std::vector<double> ReferenceGemv(const datatypes::PackedRazerW4& w, const uint16_t* x, int m);
std::vector<double> ReferenceGemv(const datatypes::PackedInt4Asym& w, const uint16_t* x, int m);
std::vector<double> ReferenceGemv(const datatypes::PackedNvfp4& w, const uint16_t* x, int m);
// Plain FP16 weights: w is FP16 bits [n, k].
std::vector<double> ReferenceGemvFp16(const uint16_t* w, int64_t n, int64_t k, const uint16_t* x,
                                      int m);

// The accuracy bound of every kernel against the reference, on
//   rel_err(i) = |y_gpu(i) - y_ref(i)| / max(|y_ref(i)|, rms(y_ref)).
// The FP16 output alone contributes up to 2^-11 = 4.9e-4; FP32 accumulation over k <= 2^16
// (tensor-core accumulation may truncate) stays below 1e-4 of rms(y) for these data. The
// rms floor keeps outputs that cancel to near zero from dominating. Bound: 4e-3 (8x headroom).
inline constexpr double kGemvRelErrBound = 4e-3;

struct GemvComparison {
  double max_rel_err = 0;  // max over outputs of rel_err (above)
  double max_abs_err = 0;
  double ref_rms = 0;
  int64_t worst_index = -1;  // index of max_rel_err in y
  int64_t non_finite = 0;    // outputs of y_gpu that are NaN or Inf
  double bound = kGemvRelErrBound;  // the max_rel_err that passes
  bool ok() const { return non_finite == 0 && max_rel_err <= bound; }
  std::string ToString() const;
};

// Compares FP16 bits `got` with `ref` element by element (same length).
GemvComparison CompareGemv(const std::vector<double>& ref, const std::vector<uint16_t>& got);
// The same for FP32 outputs (the CPU kernels), against `bound`.
GemvComparison CompareGemv(const std::vector<double>& ref, const std::vector<float>& got,
                           double bound);

}  // namespace qlab::kernels
