// Packed operands and reference of the CPU GEMV (see cpu_gemv_operands.h).
#include "evaluators/kernels/cpu_gemv_operands.h"

#include <cstring>

#include "common/int_math.h"
#include "evaluators/datatypes/minifloat.h"
#include "evaluators/datatypes/packing.h"
#include "evaluators/datatypes/parallel.h"
#include "evaluators/kernels/gemv_synthetic.h"

namespace qlab::kernels {
namespace {

std::vector<uint8_t> BytesOf(const std::vector<uint32_t>& words) {
  std::vector<uint8_t> bytes(words.size() * 4);
  if (!words.empty()) std::memcpy(bytes.data(), words.data(), bytes.size());
  return bytes;
}

std::vector<uint32_t> WordsOf(const uint8_t* bytes, int64_t count) {
  std::vector<uint32_t> words(count / 4);
  if (!words.empty()) std::memcpy(words.data(), bytes, words.size() * 4);
  return words;
}

int64_t AuxWordsPerRow(const CpuPackedMatrix& m) {
  const int64_t groups = m.k / 128;
  return m.format == CpuGemvFormat::kInt4Asym ? CeilDiv(groups, 8) : CeilDiv(groups, 16);
}

// Copies `width` elements per listed row of src ([*, width]).
template <class T>
std::vector<T> SelectRows(const std::vector<T>& src, int64_t width, const std::vector<int64_t>& rows) {
  std::vector<T> out(rows.size() * width);
  for (size_t i = 0; i < rows.size(); ++i) {
    std::memcpy(out.data() + i * width, src.data() + rows[i] * width, width * sizeof(T));
  }
  return out;
}

}  // namespace

CpuWeights CpuPackedMatrix::View() const {
  CpuWeights w;
  w.format = format;
  w.n = n;
  w.k = k;
  w.qweight = qweight.data();
  w.scales_fp16 = scales_fp16.empty() ? nullptr : scales_fp16.data();
  w.aux_words = aux_words.empty() ? nullptr : aux_words.data();
  w.aux_bytes = aux_bytes.empty() ? nullptr : aux_bytes.data();
  w.tensor_scale = tensor_scale;
  return w;
}

StatusOr<CpuPackedMatrix> PackCpuMatrix(CpuGemvFormat format, const float* w, int64_t n, int64_t k) {
  CpuPackedMatrix m;
  m.format = format;
  m.n = n;
  m.k = k;
  switch (format) {
    case CpuGemvFormat::kInt4Asym: {
      ASSIGN_OR_RETURN(auto p, datatypes::PackInt4Asym(w, n, k));
      m.qweight = BytesOf(p.qweight);
      m.scales_fp16 = std::move(p.scales_fp16);
      m.aux_words = std::move(p.zeros);
      break;
    }
    case CpuGemvFormat::kNvfp4: {
      ASSIGN_OR_RETURN(auto p, datatypes::PackNvfp4(w, n, k));
      m.qweight = BytesOf(p.qweight);
      m.aux_bytes = std::move(p.block_scales);
      m.tensor_scale = p.tensor_scale;
      break;
    }
    case CpuGemvFormat::kRazerFp4: {
      ASSIGN_OR_RETURN(auto p, datatypes::PackRazerW4(w, n, k));
      m.qweight = BytesOf(p.qweight);
      m.scales_fp16 = std::move(p.scales_fp16);
      m.aux_words = std::move(p.selectors);
      break;
    }
    case CpuGemvFormat::kInt8Asym: {
      ASSIGN_OR_RETURN(auto p, datatypes::PackInt8Asym(w, n, k));
      m.qweight = std::move(p.qweight);
      m.scales_fp16 = std::move(p.scales_fp16);
      m.aux_bytes = std::move(p.zeros);
      break;
    }
    case CpuGemvFormat::kE2m1: {
      ASSIGN_OR_RETURN(auto p, datatypes::PackE2m1(w, n, k));
      m.qweight = BytesOf(p.qweight);
      m.scales_fp16 = std::move(p.scales_fp16);
      break;
    }
  }
  return m;
}

CpuPackedMatrix SynthCpuMatrix(CpuGemvFormat format, int64_t n, int64_t k, uint64_t seed, int threads) {
  CpuPackedMatrix m;
  m.format = format;
  m.n = n;
  m.k = k;
  const int64_t groups = k / 128;
  const int64_t row_bytes = format == CpuGemvFormat::kInt8Asym ? k : k / 2;
  m.qweight.resize(n * row_bytes);
  // Rows are filled in parallel: multi-gigabyte matrices would otherwise take seconds.
  datatypes::ParallelFor(n, threads, 64, [&](int64_t begin, int64_t end) {
    for (int64_t i = begin * row_bytes / 4; i < end * row_bytes / 4; ++i) {
      const uint32_t word = SynthQweightWord(seed, static_cast<uint64_t>(i));
      std::memcpy(m.qweight.data() + 4 * i, &word, 4);
    }
  });
  if (format != CpuGemvFormat::kNvfp4) {
    m.scales_fp16.resize(n * groups);
    for (int64_t i = 0; i < n * groups; ++i) m.scales_fp16[i] = SynthScaleBits(seed, i);
  }
  if (format == CpuGemvFormat::kInt4Asym || format == CpuGemvFormat::kRazerFp4) {
    m.aux_words.resize(n * AuxWordsPerRow(m));
    for (size_t i = 0; i < m.aux_words.size(); ++i) m.aux_words[i] = SynthAuxWord(seed, i);
  }
  if (format == CpuGemvFormat::kInt8Asym) {
    m.aux_bytes.resize(n * groups);
    for (int64_t i = 0; i < n * groups; ++i) m.aux_bytes[i] = static_cast<uint8_t>(SynthAuxWord(seed, i));
  }
  if (format == CpuGemvFormat::kNvfp4) {
    m.aux_bytes.resize(n * (k / 16));
    for (size_t i = 0; i < m.aux_bytes.size(); ++i) m.aux_bytes[i] = SynthBlockScale(seed, i);
    m.tensor_scale = kSynthTensorScale;
  }
  return m;
}

std::vector<float> DequantizeCpuRows(const CpuPackedMatrix& m, const std::vector<int64_t>& rows) {
  const int64_t groups = m.k / 128, n = static_cast<int64_t>(rows.size());
  const std::vector<uint8_t> qbytes =
      SelectRows(m.qweight, m.format == CpuGemvFormat::kInt8Asym ? m.k : m.k / 2, rows);
  switch (m.format) {
    case CpuGemvFormat::kInt4Asym: {
      datatypes::PackedInt4Asym p;
      p.n = n;
      p.k = m.k;
      p.qweight = WordsOf(qbytes.data(), qbytes.size());
      p.scales_fp16 = SelectRows(m.scales_fp16, groups, rows);
      p.zeros = SelectRows(m.aux_words, AuxWordsPerRow(m), rows);
      return datatypes::Dequantize(p);
    }
    case CpuGemvFormat::kNvfp4: {
      datatypes::PackedNvfp4 p;
      p.n = n;
      p.k = m.k;
      p.qweight = WordsOf(qbytes.data(), qbytes.size());
      p.block_scales = SelectRows(m.aux_bytes, m.k / 16, rows);
      p.tensor_scale = m.tensor_scale;
      return datatypes::Dequantize(p);
    }
    case CpuGemvFormat::kRazerFp4: {
      datatypes::PackedRazerW4 p;
      p.n = n;
      p.k = m.k;
      p.qweight = WordsOf(qbytes.data(), qbytes.size());
      p.scales_fp16 = SelectRows(m.scales_fp16, groups, rows);
      p.selectors = SelectRows(m.aux_words, AuxWordsPerRow(m), rows);
      return datatypes::Dequantize(p);
    }
    case CpuGemvFormat::kInt8Asym: {
      datatypes::PackedInt8Asym p;
      p.n = n;
      p.k = m.k;
      p.qweight = qbytes;
      p.scales_fp16 = SelectRows(m.scales_fp16, groups, rows);
      p.zeros = SelectRows(m.aux_bytes, groups, rows);
      return datatypes::Dequantize(p);
    }
    case CpuGemvFormat::kE2m1: {
      datatypes::PackedE2m1 p;
      p.n = n;
      p.k = m.k;
      p.qweight = WordsOf(qbytes.data(), qbytes.size());
      p.scales_fp16 = SelectRows(m.scales_fp16, groups, rows);
      return datatypes::Dequantize(p);
    }
  }
  return {};
}

std::vector<float> SynthCpuActivations(int m, int64_t k, uint64_t seed) {
  std::vector<float> x(m * k);
  for (int64_t i = 0; i < m * k; ++i) {
    x[i] = datatypes::Fp16BitsToFloat(SynthActivationBits(seed, static_cast<uint64_t>(i)));
  }
  return x;
}

std::vector<double> CpuReferenceGemv(const std::vector<float>& w, int64_t rows, int64_t k,
                                     const float* x, int m) {
  std::vector<double> y(m * rows, 0.0);
  for (int b = 0; b < m; ++b) {
    for (int64_t i = 0; i < rows; ++i) {
      double sum = 0.0;
      for (int64_t kk = 0; kk < k; ++kk) sum += double{w[i * k + kk]} * double{x[b * k + kk]};
      y[b * rows + i] = sum;
    }
  }
  return y;
}

}  // namespace qlab::kernels
