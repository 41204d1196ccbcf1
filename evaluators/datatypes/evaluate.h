// The fused quantisation pass behind the `quantize` job and the throughput benchmark: encode
// each group, decode it, and accumulate error metrics, histograms and code-bit statistics,
// threaded over rows, without materialising the quantised tensor.
#pragma once

#include <cstdint>
#include <vector>

#include "common/job_output.h"
#include "common/status.h"
#include "evaluators/datatypes/quantizer.h"

namespace qlab::datatypes {

struct EvaluateOptions {
  // Threads over rows. Default 0: hardware concurrency.
  int num_threads = 0;
  // Checked between rows for cancellation; receives progress in [0, 1]. Default: none.
  JobContext* context = nullptr;
};

// What one quantisation of one tensor measured. Sums are taken per row and added in row order,
// so every figure is identical for any thread count.
struct QuantizationReport {
  int64_t rows = 0, cols = 0, group_size = 0;
  int64_t num_weights = 0;
  double mse = 0;             // mean (w - q(w))^2
  double sqnr_db = 0;         // 10 log10(sum w^2 / sum (w - q(w))^2), see SqnrDb()
  double max_abs_err = 0;     // max |w - q(w)|
  double kl = 0;              // HistogramKl of w vs q(w), kKlBins bins over [-absmax, absmax]
  double bits_per_weight = 0; // BitsPerWeight(traits, group_size)
  // Fraction of zero bits in each bit plane of the element codes (index = bit), and their mean:
  // the work a bit-serial MAC array skips.
  std::vector<double> bit_zero_fraction;
  double bit_sparsity = 0;
  float tensor_absmax = 0;
};

// Quantises w ([rows, cols] row-major) with `quantizer` and measures the result.
// INVALID_ARGUMENT: empty tensor, group size not dividing cols, NaN/Inf weights (counted in the
// message), values the format overflows (fp16 for |w| >= 65520). CANCELLED when options.context
// was cancelled.
StatusOr<QuantizationReport> EvaluateQuantization(const Quantizer& quantizer, const float* w,
                                                  int64_t rows, int64_t cols,
                                                  const EvaluateOptions& options = {});

}  // namespace qlab::datatypes
