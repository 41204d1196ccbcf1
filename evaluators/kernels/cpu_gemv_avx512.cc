// AVX-512 (F, BW, VL, DQ) path of cpu_gemv.h, without VNNI. Compiled with those flags: includes
// nothing but intrinsics and cpu_gemv_task.h (see there).
#include <immintrin.h>

#include <utility>

#include "evaluators/kernels/cpu_gemv_task.h"

namespace qlab::kernels::cpu_gemv_internal {
namespace avx512 {
inline constexpr bool kVnni = false;
#include "evaluators/kernels/cpu_gemv_avx512_traits.inc"
#include "evaluators/kernels/cpu_gemv_simd.inc"
}  // namespace avx512

void GemvRowsAvx512(const Task& t, int64_t row_begin, int64_t row_end) {
  avx512::DispatchRows(t, row_begin, row_end);
}

uint64_t StreamReadAvx512(const uint8_t* p, int64_t bytes, int prefetch_bytes) {
  return avx512::StreamRead(p, bytes, prefetch_bytes);
}

}  // namespace qlab::kernels::cpu_gemv_internal
