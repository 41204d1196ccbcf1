// Fused encode + decode + metrics (see evaluate.h). Each thread keeps its own histograms and
// code counts (integer sums, order-free) and writes per-row float sums into shared vectors at
// disjoint indices, which are reduced in row order at the end.
#include "evaluators/datatypes/evaluate.h"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <mutex>
#include <string>

#include "evaluators/datatypes/metrics.h"
#include "evaluators/datatypes/parallel.h"

namespace qlab::datatypes {

StatusOr<QuantizationReport> EvaluateQuantization(const Quantizer& quantizer, const float* w,
                                                  int64_t rows, int64_t cols,
                                                  const EvaluateOptions& options) {
  if (rows <= 0 || cols <= 0) {
    return Status::InvalidArgument("empty tensor [" + std::to_string(rows) + ", " +
                                   std::to_string(cols) + "]");
  }
  ASSIGN_OR_RETURN(const int64_t group_size, quantizer.GroupSizeFor(cols));
  const int64_t total = rows * cols;
  const FiniteScan scan = ScanFinite(w, total);
  if (scan.nan_count + scan.inf_count > 0) {
    return Status::InvalidArgument("tensor has " + std::to_string(scan.nan_count) + " NaN and " +
                                   std::to_string(scan.inf_count) +
                                   " Inf values; refusing to quantize them");
  }
  const DatatypeTraits& traits = quantizer.traits();
  const float tensor_scale = quantizer.TensorScale(scan.absmax);
  const float range = scan.absmax;
  const int bits = traits.payload_bits;
  const int num_codes = 1 << bits;
  const int64_t groups_per_row = cols / group_size;

  std::vector<double> row_err(rows), row_sig(rows);
  std::vector<int64_t> hist_w(kKlBins, 0), hist_q(kKlBins, 0), code_counts(num_codes, 0);
  double max_err = 0;
  std::mutex merge_mu;
  std::atomic<bool> cancelled{false};
  const int64_t check_every = std::max<int64_t>(1, 65536 / cols);

  ParallelFor(rows, options.num_threads, std::max<int64_t>(1, 16384 / cols),
              [&](int64_t r0, int64_t r1) {
    std::vector<uint16_t> codes(group_size);
    std::vector<float> deq(group_size);
    std::vector<int64_t> hw(kKlBins, 0), hq(kKlBins, 0), cc(num_codes, 0);
    float local_max = 0;
    for (int64_t r = r0; r < r1; ++r) {
      if ((r - r0) % check_every == 0 && options.context != nullptr) {
        if (options.context->cancelled() || cancelled.load(std::memory_order_relaxed)) {
          cancelled.store(true, std::memory_order_relaxed);
          return;
        }
        if (r0 == 0) options.context->ReportProgress(static_cast<double>(r) / (r1 - r0));
      }
      double err_sum = 0, sig_sum = 0;
      for (int64_t gi = 0; gi < groups_per_row; ++gi) {
        const float* x = w + r * cols + gi * group_size;
        GroupParams params;
        quantizer.EncodeGroup(x, group_size, tensor_scale, codes.data(), &params);
        quantizer.DecodeGroup(codes.data(), group_size, params, tensor_scale, deq.data());
        // Eight float lanes per group, then double: a fixed order the compiler can vectorise.
        float err_lanes[8] = {}, sig_lanes[8] = {}, max_lanes[8] = {};
        int64_t j = 0;
        for (; j + 8 <= group_size; j += 8) {
          for (int l = 0; l < 8; ++l) {
            const float d = x[j + l] - deq[j + l];
            err_lanes[l] += d * d;
            sig_lanes[l] += x[j + l] * x[j + l];
            const float a = std::fabs(d);
            max_lanes[l] = a > max_lanes[l] ? a : max_lanes[l];
          }
        }
        for (; j < group_size; ++j) {
          const float d = x[j] - deq[j];
          err_lanes[0] += d * d;
          sig_lanes[0] += x[j] * x[j];
          max_lanes[0] = std::max(max_lanes[0], std::fabs(d));
        }
        for (int l = 0; l < 8; ++l) {
          err_sum += err_lanes[l];
          sig_sum += sig_lanes[l];
          local_max = std::max(local_max, max_lanes[l]);
        }
        for (int64_t k = 0; k < group_size; ++k) {
          ++hw[HistogramBin(x[k], range, kKlBins)];
          ++hq[HistogramBin(deq[k], range, kKlBins)];
          ++cc[codes[k]];
        }
      }
      row_err[r] = err_sum;
      row_sig[r] = sig_sum;
    }
    std::lock_guard<std::mutex> lock(merge_mu);
    for (int b = 0; b < kKlBins; ++b) {
      hist_w[b] += hw[b];
      hist_q[b] += hq[b];
    }
    for (int c = 0; c < num_codes; ++c) code_counts[c] += cc[c];
    max_err = std::max(max_err, static_cast<double>(local_max));
  });
  if (cancelled.load()) return Status::Cancelled("quantization cancelled");

  double err = 0, sig = 0;
  for (int64_t r = 0; r < rows; ++r) {
    err += row_err[r];
    sig += row_sig[r];
  }
  QuantizationReport report;
  report.rows = rows;
  report.cols = cols;
  report.group_size = group_size;
  report.num_weights = total;
  report.mse = err / static_cast<double>(total);
  report.sqnr_db = SqnrDb(sig, err);
  report.max_abs_err = max_err;
  report.kl = HistogramKl(hist_w, hist_q);
  report.bits_per_weight = BitsPerWeight(traits, group_size);
  report.tensor_absmax = scan.absmax;
  report.bit_zero_fraction.assign(bits, 0.0);
  for (int b = 0; b < bits; ++b) {
    int64_t zeros = 0;
    for (int c = 0; c < num_codes; ++c) {
      if (((c >> b) & 1) == 0) zeros += code_counts[c];
    }
    report.bit_zero_fraction[b] = static_cast<double>(zeros) / static_cast<double>(total);
    report.bit_sparsity += report.bit_zero_fraction[b] / bits;
  }
  if (options.context != nullptr) options.context->ReportProgress(1.0);
  return report;
}

}  // namespace qlab::datatypes
