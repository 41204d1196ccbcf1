// What cpu_gemv.cc hands each instruction-set translation unit: plain data and raw pointers.
// The AVX2 / AVX-512 files are compiled with those instruction sets enabled, so they include
// nothing but this header and <immintrin.h>: an inline function from a shared header compiled
// there could be the copy the linker keeps for every caller, and run AVX-512 code on a CPU
// without it.
#pragma once

#include <cstdint>

namespace qlab::kernels::cpu_gemv_internal {

// Values of CpuGemvFormat, as template arguments.
enum Format : int { kInt4Asym = 0, kNvfp4 = 1, kRazerFp4 = 2, kInt8Asym = 3, kE2m1 = 4 };

inline constexpr int kGroup = 128;  // elements per activation block and per weight group
inline constexpr int kLut16Offset = 16;  // added to doubled E2M1-family values in the int8 mode

struct Task {
  int format = kInt4Asym;
  bool int8_activations = false;
  int m = 1;
  int64_t n = 0, k = 0, groups = 0;  // groups = k / 128
  float* y = nullptr;                // [m, n]
  // The groups this call covers, and whether it adds to y (a later K slice) or sets it.
  int64_t group_begin = 0, group_end = 0;
  bool accumulate = false;
  int prefetch_bytes = 0;  // software prefetch distance along a row's weights; 0: none

  // Weights (see CpuWeights).
  const uint8_t* qweight = nullptr;
  int64_t row_bytes = 0;  // k / 2 or k
  const uint16_t* scales_fp16 = nullptr;
  const uint32_t* aux_words = nullptr;
  int64_t aux_words_per_row = 0;
  const uint8_t* aux_bytes = nullptr;
  float tensor_scale = 1.0f;

  // Prepared activations (see CpuGemvWorkspace); every array is [m, ...] with stride k or
  // groups (xcorr: groups * 16).
  const float* xf = nullptr;
  const int8_t* xq = nullptr;
  const float* xscale = nullptr;
  const int32_t* xsum = nullptr;
  const float* xsumf = nullptr;
  const int32_t* xcorr = nullptr;

  // Decode tables, 16 entries each: E2M1 doubled (signed, fp32 mode; +16 offset, int8 mode),
  // then the four RaZeR tables with entry 8 = 2 * special value (selector 0..3).
  const int8_t* lut_e2m1 = nullptr;
  const int8_t* lut_razer = nullptr;  // [4][16]
};

// Rows [row_begin, row_end) of t.y. Each exists only where the build has that path.
void GemvRowsPortable(const Task& t, int64_t row_begin, int64_t row_end);
void GemvRowsAvx2(const Task& t, int64_t row_begin, int64_t row_end);
void GemvRowsAvx512(const Task& t, int64_t row_begin, int64_t row_end);
void GemvRowsAvx512Vnni(const Task& t, int64_t row_begin, int64_t row_end);

uint64_t StreamReadAvx2(const uint8_t* p, int64_t bytes, int prefetch_bytes);
uint64_t StreamReadAvx512(const uint8_t* p, int64_t bytes, int prefetch_bytes);

}  // namespace qlab::kernels::cpu_gemv_internal
