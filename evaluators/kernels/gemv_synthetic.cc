// Host builders of the synthetic GEMV operands (see gemv_synthetic.h).
#include "evaluators/kernels/gemv_synthetic.h"

#include "common/int_math.h"

namespace qlab::kernels {
namespace {

// Fills dst[i * width + j] = gen(row_i * width + j) for every listed row.
template <class T, class Gen>
std::vector<T> RowsOf(const std::vector<int64_t>& rows, int64_t width, Gen gen) {
  std::vector<T> out(rows.size() * width);
  for (size_t i = 0; i < rows.size(); ++i) {
    for (int64_t j = 0; j < width; ++j) {
      out[i * width + j] = gen(static_cast<uint64_t>(rows[i] * width + j));
    }
  }
  return out;
}

}  // namespace

datatypes::PackedRazerW4 SynthRazerW4Rows(const GemvShape& shape, uint64_t seed,
                                          const std::vector<int64_t>& rows) {
  const int64_t groups = shape.k / 128;
  datatypes::PackedRazerW4 p;
  p.n = static_cast<int64_t>(rows.size());
  p.k = shape.k;
  p.qweight =
      RowsOf<uint32_t>(rows, shape.k / 8, [&](uint64_t i) { return SynthQweightWord(seed, i); });
  p.scales_fp16 =
      RowsOf<uint16_t>(rows, groups, [&](uint64_t i) { return SynthScaleBits(seed, i); });
  p.selectors = RowsOf<uint32_t>(rows, CeilDiv(groups, 16),
                                 [&](uint64_t i) { return SynthAuxWord(seed, i); });
  return p;
}

datatypes::PackedInt4Asym SynthInt4AsymRows(const GemvShape& shape, uint64_t seed,
                                            const std::vector<int64_t>& rows) {
  const int64_t groups = shape.k / 128;
  datatypes::PackedInt4Asym p;
  p.n = static_cast<int64_t>(rows.size());
  p.k = shape.k;
  p.qweight =
      RowsOf<uint32_t>(rows, shape.k / 8, [&](uint64_t i) { return SynthQweightWord(seed, i); });
  p.scales_fp16 =
      RowsOf<uint16_t>(rows, groups, [&](uint64_t i) { return SynthScaleBits(seed, i); });
  p.zeros =
      RowsOf<uint32_t>(rows, CeilDiv(groups, 8), [&](uint64_t i) { return SynthAuxWord(seed, i); });
  return p;
}

datatypes::PackedNvfp4 SynthNvfp4Rows(const GemvShape& shape, uint64_t seed,
                                      const std::vector<int64_t>& rows) {
  datatypes::PackedNvfp4 p;
  p.n = static_cast<int64_t>(rows.size());
  p.k = shape.k;
  p.qweight =
      RowsOf<uint32_t>(rows, shape.k / 8, [&](uint64_t i) { return SynthQweightWord(seed, i); });
  p.block_scales =
      RowsOf<uint8_t>(rows, shape.k / 16, [&](uint64_t i) { return SynthBlockScale(seed, i); });
  p.tensor_scale = kSynthTensorScale;
  return p;
}

std::vector<uint16_t> SynthFp16WeightRows(const GemvShape& shape, uint64_t seed,
                                          const std::vector<int64_t>& rows) {
  return RowsOf<uint16_t>(rows, shape.k, [&](uint64_t i) { return SynthFp16WeightBits(seed, i); });
}

std::vector<uint16_t> SynthActivations(const GemvShape& shape, uint64_t seed) {
  std::vector<uint16_t> x(static_cast<size_t>(shape.m) * shape.k);
  for (size_t i = 0; i < x.size(); ++i) x[i] = SynthActivationBits(seed, i);
  return x;
}

std::vector<int64_t> AllRows(int64_t n) {
  std::vector<int64_t> rows(n);
  for (int64_t i = 0; i < n; ++i) rows[i] = i;
  return rows;
}

std::vector<int64_t> SampleRows(int64_t n, int64_t max_rows) {
  if (max_rows < 2) max_rows = 2;
  if (n <= max_rows) return AllRows(n);
  std::vector<int64_t> rows;
  rows.reserve(max_rows);
  for (int64_t i = 0; i < max_rows; ++i) rows.push_back(i * (n - 1) / (max_rows - 1));
  return rows;
}

}  // namespace qlab::kernels
