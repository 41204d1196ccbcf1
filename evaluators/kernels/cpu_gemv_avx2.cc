// AVX2 (+FMA, F16C) path of cpu_gemv.h. Compiled with those flags: includes nothing but
// intrinsics, <utility>'s index sequences and cpu_gemv_task.h (see there).
#include <immintrin.h>

#include <utility>

#include "evaluators/kernels/cpu_gemv_task.h"

namespace qlab::kernels::cpu_gemv_internal {
namespace avx2 {

struct V {
  using I = __m256i;
  using F = __m256;
  static constexpr int kBytes = 32;
  static constexpr int kLanes = 8;

  static I Load(const void* p) { return _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)); }
  static void Prefetch(const void* p) { _mm_prefetch(static_cast<const char*>(p), _MM_HINT_T0); }
  static F LoadF(const float* p) { return _mm256_loadu_ps(p); }
  static I Zero() { return _mm256_setzero_si256(); }
  static F ZeroF() { return _mm256_setzero_ps(); }
  static I Set1Byte(char c) { return _mm256_set1_epi8(c); }
  static F Set1F(float f) { return _mm256_set1_ps(f); }
  static I And(I a, I b) { return _mm256_and_si256(a, b); }
  static I Srli4(I a) { return _mm256_srli_epi16(a, 4); }
  static I Table(const int8_t* t16) {
    return _mm256_broadcastsi128_si256(_mm_loadu_si128(reinterpret_cast<const __m128i*>(t16)));
  }
  static I Shuffle(I table, I idx) { return _mm256_shuffle_epi8(table, idx); }
  static I Sub32(I a, I b) { return _mm256_sub_epi32(a, b); }
  static I Add64(I a, I b) { return _mm256_add_epi64(a, b); }
  static uint64_t Sum64(I a) {
    const __m128i s = _mm_add_epi64(_mm256_castsi256_si128(a), _mm256_extracti128_si256(a, 1));
    return static_cast<uint64_t>(_mm_cvtsi128_si64(s)) + static_cast<uint64_t>(_mm_extract_epi64(s, 1));
  }
  static F ToFloat(I a) { return _mm256_cvtepi32_ps(a); }
  static F Fma(F a, F b, F c) { return _mm256_fmadd_ps(a, b, c); }
  static F Mul(F a, F b) { return _mm256_mul_ps(a, b); }
  static F Add(F a, F b) { return _mm256_add_ps(a, b); }
  static float HSum(F a) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(a), _mm256_extractf128_ps(a, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
  }
  static float Fp16ToFloat(uint16_t h) { return _cvtsh_ss(h); }

  // u8 x s8 through 16-bit pairs: exact for |u| <= 32 (never saturates); DotWide for any u8.
  static I Dot(I acc, I u, I s) {
    return _mm256_add_epi32(acc, _mm256_madd_epi16(_mm256_maddubs_epi16(u, s), _mm256_set1_epi16(1)));
  }
  static I DotWide(I acc, I u, I s) {
    const I u0 = _mm256_cvtepu8_epi16(_mm256_castsi256_si128(u));
    const I u1 = _mm256_cvtepu8_epi16(_mm256_extracti128_si256(u, 1));
    const I s0 = _mm256_cvtepi8_epi16(_mm256_castsi256_si128(s));
    const I s1 = _mm256_cvtepi8_epi16(_mm256_extracti128_si256(s, 1));
    return _mm256_add_epi32(acc, _mm256_add_epi32(_mm256_madd_epi16(u0, s0), _mm256_madd_epi16(u1, s1)));
  }

  // Lane i = E4M3 byte i/2 of p[0..4) as FP16 (value * 2^-8), times `mul`.
  static F PairScales(const uint8_t* p, float mul) {
    int32_t word;
    __builtin_memcpy(&word, p, 4);
    __m128i v = _mm_cvtsi32_si128(word);
    v = _mm_unpacklo_epi8(v, v);
    const __m128i h = _mm_cvtepu8_epi16(v);
    const __m128i bits = _mm_or_si128(_mm_slli_epi16(_mm_and_si128(h, _mm_set1_epi16(0x7F)), 7),
                                      _mm_slli_epi16(_mm_and_si128(h, _mm_set1_epi16(0x80)), 8));
    return _mm256_mul_ps(_mm256_cvtph_ps(bits), _mm256_set1_ps(mul));
  }
  // fp32 mode, chunk C (bytes 8C..8C+7 of a load = elements 16C..16C+15): block C.
  template <int C>
  static F ChunkScales(const float* block_scale) {
    return _mm256_set1_ps(block_scale[C]);
  }
  template <int C>
  static __m128i Chunk8(I v) {
    const __m128i half = C < 2 ? _mm256_castsi256_si128(v) : _mm256_extracti128_si256(v, 1);
    return C % 2 == 0 ? half : _mm_srli_si128(half, 8);
  }
  template <int C>
  static F WidenSigned(I v) {
    return _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(Chunk8<C>(v)));
  }
  template <int C>
  static F WidenUnsigned(I v) {
    return _mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(Chunk8<C>(v)));
  }
  template <int N, typename Fn>
  static void ForChunks(Fn&& fn) {
    [&]<int... C>(std::integer_sequence<int, C...>) {
      (fn(std::integral_constant<int, C>{}), ...);
    }(std::make_integer_sequence<int, N>{});
  }
};

#include "evaluators/kernels/cpu_gemv_simd.inc"

}  // namespace avx2

void GemvRowsAvx2(const Task& t, int64_t row_begin, int64_t row_end) {
  avx2::DispatchRows(t, row_begin, row_end);
}

uint64_t StreamReadAvx2(const uint8_t* p, int64_t bytes, int prefetch_bytes) {
  return avx2::StreamRead(p, bytes, prefetch_bytes);
}

}  // namespace qlab::kernels::cpu_gemv_internal
