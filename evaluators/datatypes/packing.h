// Packed weight formats read by the CUDA fused-dequant GEMV kernels (evaluators/kernels/), and
// their CPU reference decoders. The byte layouts are specified in docs/packed-layouts.md and
// restated on each struct; Pack* quantises exactly like the registry datatype of the same name
// (so results agree with the `quantize` job), and Dequantize reads only the packed buffers.
// Exact FP16 / E4M3 / E8M0 helpers for kernels' host code are in minifloat.h (included here).
//
// Shapes: W is [n, k] row-major (n output channels, k the reduction dimension); groups of
// `group_size` consecutive elements along k. All functions are thread-safe; Pack* may use several
// threads internally.
#pragma once

#include <cstdint>
#include <vector>

#include "common/status.h"
#include "evaluators/datatypes/minifloat.h"

namespace qlab::datatypes {

// Nibble stream shared by every 4-bit format: qweight is uint32 [n, k/8]; element k of row r is
// bits 4*(k%8)..4*(k%8)+3 of qweight[r*(k/8) + k/8]. As bytes: low nibble of byte j = element 2j.
inline uint32_t NibbleAt(const std::vector<uint32_t>& qweight, int64_t k_words, int64_t row,
                         int64_t k) {
  return (qweight[row * k_words + k / 8] >> (4 * (k % 8))) & 0xFu;
}

// ---- razer_fp4: RaZeR W4 (v1 grids), g = 128 -------------------------------------------------
// qweight: E2M1 nibbles (sign<<3 | eem); code 0x8 decodes to the group's special value SV.
// scales_fp16: fp16 bits [n, k/128] = absmax / max|grid| of the chosen grid, rounded to FP16.
// selectors: uint32 [n, ceil((k/128)/16)], 2 bits per group, group j at bits 2*(j%16) of word
//   j/16; selector -> SV: 0 -> +5, 1 -> +8, 2 -> -5, 3 -> -8.
// Value: fp16_to_float(scale) * (code == 0x8 ? SV : e2m1(code)). 4.140625 bits per weight.
struct PackedRazerW4 {
  int64_t n = 0, k = 0;
  int64_t group_size = 128;
  std::vector<uint32_t> qweight;      // [n, k/8]
  std::vector<uint16_t> scales_fp16;  // [n, k/128]
  std::vector<uint32_t> selectors;    // [n, ceil(k/128/16)]
};
inline constexpr float kRazerSpecialValues[4] = {5.0f, 8.0f, -5.0f, -8.0f};

// ---- int4_asym, g = 128 (AWQ) ----------------------------------------------------------------
// qweight: unsigned nibbles q in [0, 15]. scales_fp16: fp16 bits [n, k/128].
// zeros: uint32 [n, ceil((k/128)/8)], 4-bit zero point per group, group j at bits 4*(j%8) of
//   word j/8.
// Value: (q - zero) * fp16_to_float(scale). 4.15625 bits per weight.
struct PackedInt4Asym {
  int64_t n = 0, k = 0;
  int64_t group_size = 128;
  std::vector<uint32_t> qweight;      // [n, k/8]
  std::vector<uint16_t> scales_fp16;  // [n, k/128]
  std::vector<uint32_t> zeros;        // [n, ceil(k/128/8)]
};

// ---- nvfp4, g = 16 ---------------------------------------------------------------------------
// qweight: E2M1 nibbles (0x8 is -0). block_scales: OCP E4M3 bytes [n, k/16].
// tensor_scale: FP32, absmax(W) / (6 * 448) (1.0 for an all-zero W).
// Value: e2m1(code) * e4m3(block_scale) * tensor_scale, multiplied left to right in float.
// 4.5 bits per weight (+32 bits per tensor).
struct PackedNvfp4 {
  int64_t n = 0, k = 0;
  int64_t group_size = 16;
  std::vector<uint32_t> qweight;      // [n, k/8]
  std::vector<uint8_t> block_scales;  // [n, k/16], E4M3
  float tensor_scale = 1.0f;
};

// ---- mxfp4, g = 32 (OCP MX v1.0) --------------------------------------------------------------
// docs/packed-layouts.md. qweight: E2M1 nibbles (0x8 is -0).
// scales_e8m0: uint8 [n, k/32], value 2^(byte - 127).
// Value: e2m1(code) * 2^(scale - 127). 4.25 bits per weight.
struct PackedMxfp4 {
  int64_t n = 0, k = 0;
  int64_t group_size = 32;
  std::vector<uint32_t> qweight;     // [n, k/8]
  std::vector<uint8_t> scales_e8m0;  // [n, k/32]
};

// ---- int8_asym, g = 128 (the CPU kernels' 8-bit format) ---------------------------------------
// qweight: uint8 [n, k], q in [0, 255]. scales_fp16: fp16 bits [n, k/128]. zeros: uint8 [n, k/128].
// Value: (q - zero) * fp16_to_float(scale). 8 + 24/128 = 8.1875 bits per weight.
struct PackedInt8Asym {
  int64_t n = 0, k = 0;
  int64_t group_size = 128;
  std::vector<uint8_t> qweight;       // [n, k]
  std::vector<uint16_t> scales_fp16;  // [n, k/128]
  std::vector<uint8_t> zeros;         // [n, k/128]
};

// ---- e2m1, g = 128 (plain E2M1 with an FP16 absmax scale) -------------------------------------
// qweight: E2M1 nibbles (0x8 is -0). scales_fp16: fp16 bits [n, k/128] = absmax / 6.
// Value: fp16_to_float(scale) * e2m1(code). 4 + 16/128 = 4.125 bits per weight.
struct PackedE2m1 {
  int64_t n = 0, k = 0;
  int64_t group_size = 128;
  std::vector<uint32_t> qweight;      // [n, k/8]
  std::vector<uint16_t> scales_fp16;  // [n, k/128]
};

// Quantise and pack w ([n, k] row-major floats). INVALID_ARGUMENT when n <= 0, k <= 0, k is not
// a multiple of the group size (128, 128, 16, 32, 128, 128), or w has NaN/Inf values.
StatusOr<PackedRazerW4> PackRazerW4(const float* w, int64_t n, int64_t k);
StatusOr<PackedInt4Asym> PackInt4Asym(const float* w, int64_t n, int64_t k);
StatusOr<PackedNvfp4> PackNvfp4(const float* w, int64_t n, int64_t k);
StatusOr<PackedMxfp4> PackMxfp4(const float* w, int64_t n, int64_t k);
StatusOr<PackedInt8Asym> PackInt8Asym(const float* w, int64_t n, int64_t k);
StatusOr<PackedE2m1> PackE2m1(const float* w, int64_t n, int64_t k);

// The dequantised [n, k] row-major matrix, computed from the packed buffers alone with the value
// formula above (the CPU reference for the kernels). Bit-identical to the `quantize` job's
// fake-quantised weights for the same datatype. REQUIRES: a struct produced by Pack* (or with
// the same buffer sizes).
std::vector<float> Dequantize(const PackedRazerW4& packed);
std::vector<float> Dequantize(const PackedInt4Asym& packed);
std::vector<float> Dequantize(const PackedNvfp4& packed);
std::vector<float> Dequantize(const PackedMxfp4& packed);
std::vector<float> Dequantize(const PackedInt8Asym& packed);
std::vector<float> Dequantize(const PackedE2m1& packed);

}  // namespace qlab::datatypes
