// Fused encode + decode + metrics (see evaluate.h). Each thread keeps its own histograms and
// code counts (integer sums, order-free) and writes per-row float sums into shared vectors at
// disjoint indices, which are reduced in row order at the end: the report does not depend on
// the thread count or on which thread ran which rows.
#include "evaluators/datatypes/evaluate.h"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <string>

#include "evaluators/datatypes/metrics.h"
#include "evaluators/datatypes/parallel.h"

namespace qlab::datatypes {
namespace {

#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#define QLAB_MULTIVERSION __attribute__((target_clones("avx2", "default")))
#else
#define QLAB_MULTIVERSION
#endif

struct BinParams {
  float scale, offset, fill, max_bin;
};

// Adds one group's squared error and signal to *err_sum / *sig_sum, raises *max_err, and writes
// the histogram bins of x and deq (HistogramBin, branch-free). Eight float lanes per group, then
// double: a fixed summation order the compiler can vectorise; the AVX2 clone performs the same
// operations, so both give identical sums.
QLAB_MULTIVERSION void GroupMoments(const float* x, const float* deq, int64_t n,
                                    const BinParams& bins, double* err_sum, double* sig_sum,
                                    float* max_err, int32_t* bin_w, int32_t* bin_q) {
  float err_lanes[8] = {}, sig_lanes[8] = {}, max_lanes[8] = {};
  int64_t j = 0;
  for (; j + 8 <= n; j += 8) {
    for (int l = 0; l < 8; ++l) {
      const float d = x[j + l] - deq[j + l];
      err_lanes[l] += d * d;
      sig_lanes[l] += x[j + l] * x[j + l];
      const float a = std::fabs(d);
      max_lanes[l] = a > max_lanes[l] ? a : max_lanes[l];
    }
  }
  for (; j < n; ++j) {
    const float d = x[j] - deq[j];
    err_lanes[0] += d * d;
    sig_lanes[0] += x[j] * x[j];
    max_lanes[0] = std::max(max_lanes[0], std::fabs(d));
  }
  for (int l = 0; l < 8; ++l) {
    *err_sum += err_lanes[l];
    *sig_sum += sig_lanes[l];
    *max_err = std::max(*max_err, max_lanes[l]);
  }
  for (int64_t k = 0; k < n; ++k) {
    float pw = (x[k] + bins.offset) * bins.scale + bins.fill;
    float pq = (deq[k] + bins.offset) * bins.scale + bins.fill;
    pw = std::min(std::max(pw, 0.0f), bins.max_bin);
    pq = std::min(std::max(pq, 0.0f), bins.max_bin);
    bin_w[k] = static_cast<int32_t>(pw);
    bin_q[k] = static_cast<int32_t>(pq);
  }
}

}  // namespace

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
  // Per-thread state. Histograms and code counts keep kCopies interleaved copies (element k
  // counts into copy k % kCopies): consecutive increments of one bin, common after
  // quantisation, would otherwise serialise on store-to-load forwarding.
  constexpr int kCopies = 4;
  // 16-bit codes (FP16/BF16) are counted per byte: two L1-resident 256-entry tables instead of
  // one 65536-entry table, enough for the per-bit-plane counts.
  const bool split_bytes = num_codes > 256;
  const int count_size = split_bytes ? 512 : num_codes;
  struct ThreadState {
    std::vector<uint16_t> codes;
    std::vector<float> deq;
    std::vector<int32_t> bin_w, bin_q;
    std::vector<int64_t> hist;         // [kCopies][2][kKlBins]
    std::vector<int64_t> code_counts;  // [kCopies][count_size]
    float max_err = 0;
  };
  const int64_t min_rows = std::max<int64_t>(1, 16384 / cols);
  const int threads = ParallelThreads(rows, options.num_threads, min_rows);
  std::vector<ThreadState> states(threads);
  for (ThreadState& st : states) {
    st.codes.resize(group_size);
    st.deq.resize(group_size);
    st.bin_w.resize(group_size);
    st.bin_q.resize(group_size);
    st.hist.assign(kCopies * 2 * kKlBins, 0);
    st.code_counts.assign(static_cast<size_t>(kCopies) * count_size, 0);
  }
  BinParams bins;
  bins.scale = range > 0 ? static_cast<float>(kKlBins) / (2.0f * range) : 0.0f;
  bins.offset = range > 0 ? range : 0.0f;
  bins.fill = range > 0 ? 0.0f : static_cast<float>(kKlBins / 2);
  bins.max_bin = static_cast<float>(kKlBins - 1);
  std::atomic<bool> cancelled{false};
  std::atomic<int64_t> rows_done{0};

  ParallelForChunks(rows, options.num_threads, min_rows, [&](int tid, int64_t r0, int64_t r1) {
    if (cancelled.load(std::memory_order_relaxed)) return;
    if (options.context != nullptr && options.context->cancelled()) {
      cancelled.store(true, std::memory_order_relaxed);
      return;
    }
    ThreadState& st = states[tid];
    uint16_t* codes = st.codes.data();
    float* deq = st.deq.data();
    int32_t* bin_w = st.bin_w.data();
    int32_t* bin_q = st.bin_q.data();
    int64_t* hist = st.hist.data();
    int64_t* cc = st.code_counts.data();
    float local_max = st.max_err;
    for (int64_t r = r0; r < r1; ++r) {
      double err_sum = 0, sig_sum = 0;
      for (int64_t gi = 0; gi < groups_per_row; ++gi) {
        const float* x = w + r * cols + gi * group_size;
        GroupParams params;
        quantizer.EncodeGroup(x, group_size, tensor_scale, codes, &params);
        quantizer.DecodeGroup(codes, group_size, params, tensor_scale, deq);
        GroupMoments(x, deq, group_size, bins, &err_sum, &sig_sum, &local_max, bin_w, bin_q);
        for (int64_t k = 0; k < group_size; ++k) {
          int64_t* h = hist + (k & (kCopies - 1)) * 2 * kKlBins;
          ++h[bin_w[k]];
          ++h[kKlBins + bin_q[k]];
        }
        if (split_bytes) {
          for (int64_t k = 0; k < group_size; ++k) {
            int64_t* c = cc + (k & (kCopies - 1)) * count_size;
            ++c[codes[k] & 0xFF];
            ++c[256 + (codes[k] >> 8)];
          }
        } else {
          for (int64_t k = 0; k < group_size; ++k) ++cc[(k & (kCopies - 1)) * count_size + codes[k]];
        }
      }
      row_err[r] = err_sum;
      row_sig[r] = sig_sum;
    }
    st.max_err = local_max;
    const int64_t done = rows_done.fetch_add(r1 - r0) + (r1 - r0);
    if (tid == 0 && options.context != nullptr) {
      options.context->ReportProgress(static_cast<double>(done) / static_cast<double>(rows));
    }
  });
  if (cancelled.load()) return Status::Cancelled("quantization cancelled");

  std::vector<int64_t> hist_w(kKlBins, 0), hist_q(kKlBins, 0), code_counts(count_size, 0);
  double max_err = 0;
  for (const ThreadState& st : states) {
    for (int c = 0; c < kCopies; ++c) {
      for (int b = 0; b < kKlBins; ++b) {
        hist_w[b] += st.hist[(c * 2) * kKlBins + b];
        hist_q[b] += st.hist[(c * 2 + 1) * kKlBins + b];
      }
    }
    for (int c = 0; c < kCopies; ++c) {
      for (int v = 0; v < count_size; ++v) code_counts[v] += st.code_counts[c * count_size + v];
    }
    max_err = std::max(max_err, static_cast<double>(st.max_err));
  }

  double err = 0, sig = 0;
  for (int64_t r = 0; r < rows; ++r) {
    err += row_err[r];
    sig += row_sig[r];
  }
  if (!std::isfinite(err)) {
    // Only a format without a saturating scale can get here: fp16 for |w| >= 65520.
    return Status::InvalidArgument(std::string("quantized values overflow ") + traits.name +
                                   " (tensor absmax " + std::to_string(scan.absmax) + ")");
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
    const int table = split_bytes ? (b < 8 ? 0 : 256) : 0;
    const int bit = split_bytes ? b % 8 : b;
    const int entries = split_bytes ? 256 : num_codes;
    for (int c = 0; c < entries; ++c) {
      if (((c >> bit) & 1) == 0) zeros += code_counts[table + c];
    }
    report.bit_zero_fraction[b] = static_cast<double>(zeros) / static_cast<double>(total);
    report.bit_sparsity += report.bit_zero_fraction[b] / bits;
  }
  if (options.context != nullptr) options.context->ReportProgress(1.0);
  return report;
}

}  // namespace qlab::datatypes
