// AVX-512 VNNI path of cpu_gemv.h (vpdpbusd: 64 u8 x s8 multiply-adds per instruction).
// Compiled with -mavx512vnni and the AVX-512 flags: includes nothing but intrinsics and
// cpu_gemv_task.h (see there).
#include <immintrin.h>

#include <utility>

#include "evaluators/kernels/cpu_gemv_task.h"

namespace qlab::kernels::cpu_gemv_internal {
namespace avx512_vnni {
inline constexpr bool kVnni = true;
#include "evaluators/kernels/cpu_gemv_avx512_traits.inc"
#include "evaluators/kernels/cpu_gemv_simd.inc"
}  // namespace avx512_vnni

void GemvRowsAvx512Vnni(const Task& t, int64_t row_begin, int64_t row_end) {
  avx512_vnni::DispatchRows(t, row_begin, row_end);
}

}  // namespace qlab::kernels::cpu_gemv_internal
