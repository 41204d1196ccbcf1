// Operands of the CPU GEMV for tests and the benchmark: packed matrices of every CPU format
// that own their buffers (quantized from real weights by the datatype library, or random bits
// for speed at multi-gigabyte shapes), their dequantized rows, and the double-precision
// reference with the comparison the checks use.
#pragma once

#include <cstdint>
#include <vector>

#include "common/status.h"
#include "evaluators/kernels/cpu_gemv.h"
#include "evaluators/kernels/gemv_reference.h"

namespace qlab::kernels {

struct CpuPackedMatrix {
  CpuGemvFormat format = CpuGemvFormat::kInt4Asym;
  int64_t n = 0, k = 0;
  std::vector<uint8_t> qweight;       // nibble bytes or int8_asym bytes
  std::vector<uint16_t> scales_fp16;  // [n, k/128] (not nvfp4)
  std::vector<uint32_t> aux_words;    // int4_asym zeros / razer_fp4 selectors
  std::vector<uint8_t> aux_bytes;     // int8_asym zeros / nvfp4 E4M3 block scales
  float tensor_scale = 1.0f;

  CpuWeights View() const;
};

// Quantizes w ([n, k] row-major) with the registry datatype of that name (datatypes::Pack*).
StatusOr<CpuPackedMatrix> PackCpuMatrix(CpuGemvFormat format, const float* w, int64_t n, int64_t k);

// Uniformly random codes (every nibble value, RaZeR's special code and int8 zero points
// included), FP16 group scales in [2^-5, 2^-4), E4M3 block scales including subnormals
// (gemv_synthetic.h's generators), filled on `threads` threads. REQUIRES: k % 128 == 0.
CpuPackedMatrix SynthCpuMatrix(CpuGemvFormat format, int64_t n, int64_t k, uint64_t seed, int threads);

// Rows `rows` of m, dequantized by the datatype library: [rows.size(), k] floats.
std::vector<float> DequantizeCpuRows(const CpuPackedMatrix& m, const std::vector<int64_t>& rows);

// Activations [m, k]: FP16-exact values with magnitudes in [2^-5, 2) and random signs.
std::vector<float> SynthCpuActivations(int m, int64_t k, uint64_t seed);

// y[b * rows + i] = sum_kk w[i, kk] * x[b, kk] in double; w is [rows, k].
std::vector<double> CpuReferenceGemv(const std::vector<float>& w, int64_t rows, int64_t k,
                                     const float* x, int m);

// The bound of the CPU kernels on gemv_reference.h's rel_err (CompareGemv with FP32 outputs):
// they add no output rounding, and FP32 sums of <= 2^20 terms stay far below it.
inline constexpr double kCpuGemvRelErrBound = 1e-4;

}  // namespace qlab::kernels
