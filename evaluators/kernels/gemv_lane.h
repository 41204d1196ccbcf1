// Lane-level building blocks of the fused-dequantization GEMV kernels, compiled for the GPU and
// for the host. The CUDA kernels (gemv_kernel.cuh) and the host emulator (gemv_emulator.h) call
// the same functions for loads, bit-level decoding, fragment assembly, shared-memory indexing,
// split-K ranges and the split-K reduction, so the emulator, which runs in every test build,
// checks all of the kernels' index and decode logic on machines without a GPU. Only the MMA
// instruction itself, the barriers and the atomics are GPU-only.
//
// Vocabulary (see gemv_kernel.cuh for the full design):
//   lane (0..31) = 4*g + t: g = "groupID" (0..7), t = "threadID_in_group" (0..3) of the PTX
//   m16n8k16 fragment layout. A warp owns 16 weight rows; lane (g, t) loads rows g and g+8.
//   group step = one 128-element K group; lane (g, t) owns k offsets [32t, 32t+32) of it as four
//   32-bit words ("word" 0..3, 8 nibbles each).
//   pair p of a word = its nibbles (p, p+4) decoded into one half2 (low lane = nibble p).
#pragma once

#include <cmath>
#include <cstdint>
#include <cstring>

#if defined(__CUDACC__)
#include <cuda_fp16.h>
#include <cuda_fp8.h>
#define QLAB_HD __host__ __device__ __forceinline__
#else
#define QLAB_HD inline
#endif

#if !defined(__CUDA_ARCH__)
#include "evaluators/datatypes/minifloat.h"
#endif

namespace qlab::kernels::gemv {

// ---- Launch geometry ------------------------------------------------------------------------
inline constexpr int kWarpSize = 32;
inline constexpr int kWarpsPerBlock = 4;
inline constexpr int kThreadsPerBlock = kWarpsPerBlock * kWarpSize;  // 128
// Blocks of 128 threads every SM must be able to hold at once as far as registers go: the
// kernel's __launch_bounds__ minimum, which caps ptxas at 80 registers per thread (6 x 128 x 80
// of an SM's 64 K; the three formats need 77-80 without spills). The planner's default
// occupancy (gemv_plan.h) is this value; the real one, with shared memory, comes from the
// runtime.
inline constexpr int kMinBlocksPerSm = 6;
inline constexpr int kRowsPerWarp = 16;                              // MMA m
inline constexpr int kRowsPerBlock = kWarpsPerBlock * kRowsPerWarp;  // 64
inline constexpr int kMmaN = 8;                                      // MMA n = max batch
inline constexpr int kGroupK = 128;                                  // K per group step
inline constexpr int kWordsPerGroup = kGroupK / 8;                   // uint32 per row per step
inline constexpr int kChunksPerGroup = kGroupK / 8;                  // 16-byte x chunks per step
inline constexpr int kNvfp4BlocksPerGroup = kGroupK / 16;

// FP16 constants as bit patterns.
inline constexpr uint32_t kHalf2TwoPow14 = 0x74007400u;  // (2^14, 2^14)
inline constexpr uint32_t kHalf2TwoPow7 = 0x58005800u;   // (128, 128)

struct alignas(16) U32x4 {
  uint32_t x, y, z, w;
};

QLAB_HD uint32_t Word(const U32x4& v, int i) {
  return i == 0 ? v.x : i == 1 ? v.y : i == 2 ? v.z : v.w;
}

// ---- Memory access ----------------------------------------------------------------------------
// Streaming 16-byte weight load: read once, so it bypasses L1 (no_allocate) and asks L2 to fetch
// the surrounding 256 bytes, which the next group steps of the same rows use.
QLAB_HD U32x4 LoadStreaming16(const uint32_t* p) {
#if defined(__CUDA_ARCH__)
  U32x4 v;
  asm volatile("ld.global.nc.L1::no_allocate.L2::256B.v4.u32 {%0, %1, %2, %3}, [%4];\n"
               : "=r"(v.x), "=r"(v.y), "=r"(v.z), "=r"(v.w)
               : "l"(p));
  return v;
#else
  U32x4 v;
  std::memcpy(&v, p, sizeof(v));
  return v;
#endif
}

// Metadata loads (scales, zeros, selectors): small and reused by the 4 lanes of a row and by
// the next group steps, so they go through the read-only L1 path.
QLAB_HD uint32_t LoadMeta32(const uint32_t* p) {
#if defined(__CUDA_ARCH__)
  return __ldg(p);
#else
  return *p;
#endif
}
QLAB_HD uint32_t LoadMeta16(const uint16_t* p) {
#if defined(__CUDA_ARCH__)
  return __ldg(reinterpret_cast<const unsigned short*>(p));
#else
  return *p;
#endif
}
// Two consecutive bytes (low byte first). REQUIRES: p 2-byte aligned.
QLAB_HD uint32_t LoadMetaBytePair(const uint8_t* p) {
#if defined(__CUDA_ARCH__)
  return __ldg(reinterpret_cast<const unsigned short*>(p));
#else
  return static_cast<uint32_t>(p[0]) | static_cast<uint32_t>(p[1]) << 8;
#endif
}

// 16 bytes of activations (8 halves); they are re-read by every row block, so L1/L2 cached.
QLAB_HD U32x4 LoadActivations16(const uint16_t* p) {
#if defined(__CUDA_ARCH__)
  const uint4 v = __ldg(reinterpret_cast<const uint4*>(p));
  return {v.x, v.y, v.z, v.w};
#else
  U32x4 v;
  std::memcpy(&v, p, sizeof(v));
  return v;
#endif
}

// Split-K partial written by another block: read from L2 (ld.cg), never from a stale L1 line.
QLAB_HD float LoadPartial(const float* p) {
#if defined(__CUDA_ARCH__)
  return __ldcg(p);
#else
  return *p;
#endif
}

// ---- FP16 arithmetic on half2 bit patterns ----------------------------------------------------
// The decoders only ever compute exactly representable results with these, so the host versions
// (exact double arithmetic, one rounding) agree bit for bit with the GPU instructions.
#if !defined(__CUDA_ARCH__)
inline uint32_t HostHalfLane(double v) {
  const double r = datatypes::RoundToMiniFloat(v, datatypes::kFp16Format, false);
  return datatypes::MiniFloatBits(r, datatypes::kFp16Format) & 0xFFFFu;
}
inline double HostHalf(uint32_t h2, int lane) {
  return datatypes::Fp16BitsToFloat(static_cast<uint16_t>(h2 >> (16 * lane)));
}
#endif

QLAB_HD uint32_t HMul2(uint32_t a, uint32_t b) {
#if defined(__CUDA_ARCH__)
  uint32_t d;
  asm("mul.rn.f16x2 %0, %1, %2;\n" : "=r"(d) : "r"(a), "r"(b));
  return d;
#else
  return HostHalfLane(HostHalf(a, 0) * HostHalf(b, 0)) |
         HostHalfLane(HostHalf(a, 1) * HostHalf(b, 1)) << 16;
#endif
}

QLAB_HD uint32_t HFma2(uint32_t a, uint32_t b, uint32_t c) {
#if defined(__CUDA_ARCH__)
  uint32_t d;
  asm("fma.rn.f16x2 %0, %1, %2, %3;\n" : "=r"(d) : "r"(a), "r"(b), "r"(c));
  return d;
#else
  return HostHalfLane(HostHalf(a, 0) * HostHalf(b, 0) + HostHalf(c, 0)) |
         HostHalfLane(HostHalf(a, 1) * HostHalf(b, 1) + HostHalf(c, 1)) << 16;
#endif
}

QLAB_HD uint32_t HSub2(uint32_t a, uint32_t b) {
#if defined(__CUDA_ARCH__)
  uint32_t d;
  asm("sub.rn.f16x2 %0, %1, %2;\n" : "=r"(d) : "r"(a), "r"(b));
  return d;
#else
  return HostHalfLane(HostHalf(a, 0) - HostHalf(b, 0)) |
         HostHalfLane(HostHalf(a, 1) - HostHalf(b, 1)) << 16;
#endif
}

QLAB_HD float HalfBitsToFloat(uint32_t h) {
#if defined(__CUDA_ARCH__)
  return __half2float(__ushort_as_half(static_cast<unsigned short>(h)));
#else
  return datatypes::Fp16BitsToFloat(static_cast<uint16_t>(h));
#endif
}

QLAB_HD uint16_t FloatToHalfBits(float f) {
#if defined(__CUDA_ARCH__)
  return __half_as_ushort(__float2half_rn(f));
#else
  return datatypes::FloatToFp16Bits(f);
#endif
}

// ---- Bit-level decoders -----------------------------------------------------------------------
// A 32-bit word holds 8 nibbles n0..n7 (n_j at bits 4j..4j+3). Every decoder emits four half2
// "pairs": pair p = (n_p, n_{p+4}) with n_p in the low lane.

QLAB_HD uint32_t BytePerm(uint32_t lo, uint32_t hi, uint32_t selector) {
#if defined(__CUDA_ARCH__)
  return __byte_perm(lo, hi, selector);
#else
  const uint64_t bytes = static_cast<uint64_t>(hi) << 32 | lo;
  uint32_t r = 0;
  for (int i = 0; i < 4; ++i) {
    r |= static_cast<uint32_t>((bytes >> (8 * ((selector >> (4 * i)) & 7u))) & 0xFFu) << (8 * i);
  }
  return r;
#endif
}

// Bit 3 of every nibble of w that equals 0x8 (RaZeR's special-value code), other bits zero.
// (w | 8) - 1 per nibble is >= 8 exactly when the magnitude bits are non-zero, and never borrows
// from the next nibble.
QLAB_HD uint32_t Code8Flags(uint32_t w) {
  const uint32_t nonzero_magnitude = (w | 0x88888888u) - 0x11111111u;
  return w & ~nonzero_magnitude & 0x88888888u;
}

// E2M1 word -> four half2 pairs of e2m1(code) * 2^-14 (the subnormal trick of
// docs/packed-layouts.md: magnitude bits at FP16 bits 9..11, sign at bit 15; every value exact,
// 0x8 gives -0). For RaZeR, nibbles flagged in `flags` (Code8Flags(w), bit 3 of each 0x8
// nibble; 0 for plain E2M1) get the FP16 high byte 0x80 + `flag_delta` instead.
//
// All in 32-bit integer ops, about 1.4 per weight: byte j of `even` becomes the FP16 high byte
// (sign << 7 | magnitude << 1; the low byte is always 0) of nibble 2j, byte j of `odd` that of
// nibble 2j+1; the flags, moved to bit 0 of those bytes, add flag_delta to exactly the flagged
// bytes (the sum never carries between bytes, since every final byte is in 0..255). A byte
// permute or a mask then forms each pair: (n0, n4) = bytes 0 and 2 of even moved up a byte,
// (n2, n6) = bytes 1 and 3 of even in place; the same for odd.
QLAB_HD void DecodeE2m1Word(uint32_t w, uint32_t flags, uint32_t flag_delta, uint32_t out[4]) {
  uint32_t even = (w & 0x07070707u) * 2u + (w & 0x08080808u) * 16u;
  uint32_t odd = ((w >> 3) & 0x0E0E0E0Eu) | (w & 0x80808080u);
  even += ((flags >> 3) & 0x01010101u) * flag_delta;
  odd += ((flags >> 7) & 0x01010101u) * flag_delta;
  out[0] = BytePerm(even, 0u, 0x2404u);  // (n0, n4)
  out[1] = BytePerm(odd, 0u, 0x2404u);   // (n1, n5)
  out[2] = even & 0xFF00FF00u;           // (n2, n6)
  out[3] = odd & 0xFF00FF00u;            // (n3, n7)
}

// RaZeR selector -> FP16 high byte of SV * 2^-14 (the decoder's units): 0 -> +5 (0x0D00),
// 1 -> +8 (0x1000), 2 -> -5 (0x8D00), 3 -> -8 (0x9000).
QLAB_HD uint32_t RazerSvByte(uint32_t selector) {
  return (0x908D100Du >> (8 * (selector & 3u))) & 0xFFu;
}
// What DecodeE2m1Word adds to a flagged byte (0x80, i.e. -0) to make it the SV byte, modulo 2^32.
QLAB_HD uint32_t RazerSvDelta(uint32_t selector) { return RazerSvByte(selector) - 0x80u; }

// INT4 word -> four half2 pairs of q - zero, exact. Pairs 0 and 2 OR the nibbles into the
// mantissa of 1024.0 (0x6400, giving 1024 + q) and subtract 1024 + zero; pairs 1 and 3 take the
// nibbles where they are (1024 + 16q) and compute (1024 + 16q) / 16 - (64 + zero) in one HFMA2.
// `zero_bias` = half2(1024 + zero), `neg_zero_bias16` = half2(-(64 + zero)).
QLAB_HD void DecodeInt4Word(uint32_t w, uint32_t zero_bias, uint32_t neg_zero_bias16,
                            uint32_t out[4]) {
  constexpr uint32_t kOneSixteenth = 0x2C002C00u;  // half2(1/16)
  const uint32_t t = w >> 8;
  out[0] = HSub2((w & 0x000F000Fu) | 0x64006400u, zero_bias);                       // (n0, n4)
  out[1] = HFma2((w & 0x00F000F0u) | 0x64006400u, kOneSixteenth, neg_zero_bias16);  // (n1, n5)
  out[2] = HSub2((t & 0x000F000Fu) | 0x64006400u, zero_bias);                       // (n2, n6)
  out[3] = HFma2((t & 0x00F000F0u) | 0x64006400u, kOneSixteenth, neg_zero_bias16);  // (n3, n7)
}

// INT4 zero point -> half2(1024 + zero) and half2(-(64 + zero)) in both lanes.
QLAB_HD uint32_t Int4ZeroBiasHalf2(uint32_t zero) {
  const uint32_t h = 0x6400u | (zero & 0xFu);
  return h | h << 16;
}
QLAB_HD uint32_t Int4NegZeroBias16Half2(uint32_t zero) {
  const uint32_t h = 0xD400u + 16u * (zero & 0xFu);  // -(64 + zero): 64 = 0x5400, ulp 1/16
  return h | h << 16;
}

// Two E4M3 block scales (low byte first) -> two half2, each broadcasting one scale * 2^7. Every
// E4M3 value times 2^7 is an exact normal FP16 (at most 448 * 128 = 57344).
QLAB_HD void Nvfp4ScalePairTimes128(uint32_t two_bytes, uint32_t* first, uint32_t* second) {
#if defined(__CUDA_ARCH__)
  const __half2_raw raw =
      __nv_cvt_fp8x2_to_halfraw2(static_cast<__nv_fp8x2_storage_t>(two_bytes & 0xFFFFu), __NV_E4M3);
  const uint32_t both =
      HMul2(static_cast<uint32_t>(raw.x) | static_cast<uint32_t>(raw.y) << 16, kHalf2TwoPow7);
  *first = __byte_perm(both, 0, 0x1010);
  *second = __byte_perm(both, 0, 0x3232);
#else
  const uint32_t lo = HostHalfLane(
      static_cast<double>(datatypes::E4M3BitsToFloat(static_cast<uint8_t>(two_bytes))) * 128.0);
  const uint32_t hi = HostHalfLane(
      static_cast<double>(datatypes::E4M3BitsToFloat(static_cast<uint8_t>(two_bytes >> 8))) *
      128.0);
  *first = lo | lo << 16;
  *second = hi | hi << 16;
#endif
}

// ---- Per-format traits ------------------------------------------------------------------------
// Device pointers (or host pointers in the emulator) of one packed matrix, docs/packed-layouts.md.
struct PackedPointers {
  const uint32_t* qweight = nullptr;      // uint32 [n, k/8], nibble k%8 of word k/8
  const uint16_t* scales = nullptr;       // razer/int4: fp16 bits [n, k/128]
  const uint32_t* aux = nullptr;          // razer: selectors [n, ceil(G/16)]; int4: zeros
                                          // [n, ceil(G/8)]
  const uint8_t* block_scales = nullptr;  // nvfp4: E4M3 [n, k/16]
};

// Everything a fused GEMV launch reads and writes (device pointers on the GPU, host pointers in
// the emulator).
struct FusedGemvArgs {
  PackedPointers w;              // packed W [n, k]
  float out_scale = 1.0f;        // applied to the FP32 result: 1, or NVFP4 tensor scale * 2^7
  const uint16_t* x = nullptr;   // FP16 bits [m, k], 16-byte aligned
  uint16_t* y = nullptr;         // FP16 bits [m, n]
  float* partials = nullptr;     // split-K partials (PartialIndex), k_splits > 1 only
  unsigned* counters = nullptr;  // [row_blocks] arrival counters, zero between launches
  int64_t n = 0;                 // rows of W
  int k = 0;                     // multiple of 128
  int m = 1;                     // batch, 1..8
  int groups = 0;                // k / 128
  int k_splits = 1;              // gridDim.y
  int slice_groups_max = 0;      // MaxSliceGroups(groups, k_splits)
};

// RaZeR W4: E2M1 with code 0x8 = the group's special value, FP16 scale per 128 applied in FP32
// after the group's MMAs.
struct RazerTraits {
  static constexpr bool kScaleAfterMma = true;
  struct Meta {
    uint32_t sv_delta;  // RazerSvDelta(selector)
    float scale;        // the group's FP16 scale
  };
  struct Row {  // one weight row's metadata, set up once per lane
    const uint16_t* scales;
    const uint32_t* selectors;
  };
  QLAB_HD static Row RowFor(const PackedPointers& p, int64_t row, int groups, int t) {
    (void)t;
    return {p.scales + row * groups, p.aux + row * ((groups + 15) / 16)};
  }
  QLAB_HD static Meta Load(const Row& r, int group) {
    const uint32_t sel_word = LoadMeta32(r.selectors + (group >> 4));
    const uint32_t scale_bits = LoadMeta16(r.scales + group);
    return {RazerSvDelta(sel_word >> (2 * (group & 15))), HalfBitsToFloat(scale_bits)};
  }
  // Grid values (E2M1 or SV) * 2^-14, then an exact HMUL2 by 2^14: normal FP16 operands for
  // the tensor cores (their handling of FP16 subnormals is not specified).
  QLAB_HD static void DecodeWord(uint32_t w, const Meta& m, int word, uint32_t out[4]) {
    (void)word;
    DecodeE2m1Word(w, Code8Flags(w), m.sv_delta, out);
#pragma unroll
    for (int p = 0; p < 4; ++p) out[p] = HMul2(out[p], kHalf2TwoPow14);
  }
};

// INT4 asymmetric: (q - zero) exactly in FP16 (DecodeInt4Word); FP16 scale per 128 applied in
// FP32 after the group's MMAs.
struct Int4AsymTraits {
  static constexpr bool kScaleAfterMma = true;
  struct Meta {
    uint32_t zero_bias;        // half2(1024 + zero)
    uint32_t neg_zero_bias16;  // half2(-(64 + zero))
    float scale;
  };
  struct Row {
    const uint16_t* scales;
    const uint32_t* zeros;
  };
  QLAB_HD static Row RowFor(const PackedPointers& p, int64_t row, int groups, int t) {
    (void)t;
    return {p.scales + row * groups, p.aux + row * ((groups + 7) / 8)};
  }
  QLAB_HD static Meta Load(const Row& r, int group) {
    const uint32_t zero = LoadMeta32(r.zeros + (group >> 3)) >> (4 * (group & 7));
    const uint32_t scale_bits = LoadMeta16(r.scales + group);
    return {Int4ZeroBiasHalf2(zero), Int4NegZeroBias16Half2(zero), HalfBitsToFloat(scale_bits)};
  }
  QLAB_HD static void DecodeWord(uint32_t w, const Meta& m, int word, uint32_t out[4]) {
    (void)word;
    DecodeInt4Word(w, m.zero_bias, m.neg_zero_bias16, out);
  }
};

// NVFP4: an MMA mixes four 16-blocks, so the E4M3 block scale is applied in FP16 before the MMA:
// e2m1 * 2^-14 times e4m3 * 2^7 = e2m1 * e4m3 * 2^-7, exact; the tensor scale and 2^7 are
// applied to the FP32 result.
struct Nvfp4Traits {
  static constexpr bool kScaleAfterMma = false;
  struct Meta {
    uint32_t block_scale[2];  // half2 broadcasts for words 0-1 (block 2t) and 2-3 (block 2t+1)
  };
  struct Row {
    const uint8_t* block_scales;  // the row's scales, advanced to this lane's two blocks
  };
  QLAB_HD static Row RowFor(const PackedPointers& p, int64_t row, int groups, int t) {
    return {p.block_scales + row * groups * kNvfp4BlocksPerGroup + 2 * t};
  }
  QLAB_HD static Meta Load(const Row& r, int group) {
    Meta m;
    Nvfp4ScalePairTimes128(LoadMetaBytePair(r.block_scales + group * kNvfp4BlocksPerGroup),
                           &m.block_scale[0], &m.block_scale[1]);
    return m;
  }
  QLAB_HD static void DecodeWord(uint32_t w, const Meta& m, int word, uint32_t out[4]) {
    DecodeE2m1Word(w, 0u, 0u, out);
    const uint32_t s = m.block_scale[word >> 1];
#pragma unroll
    for (int p = 0; p < 4; ++p) out[p] = HMul2(out[p], s);
  }
};

// ---- Fragments --------------------------------------------------------------------------------
// Lane (g, t), word i of a group step feeds two m16n8k16 MMAs. The k slots of MMA (i, h) that the
// lane supplies (2t, 2t+1, 2t+8, 2t+9) hold the word's nibbles (2h, 2h+4, 2h+1, 2h+5), i.e. pairs
// 2h and 2h+1; the activations are staged in shared memory in the same order (PermuteChunk), so
// A and B agree on which physical k each slot holds. A register order: {row g slots 2t..2t+1,
// row g+8 slots 2t..2t+1, row g slots 2t+8..2t+9, row g+8 slots 2t+8..2t+9}.
struct WordFragments {
  uint32_t a[2][4];  // A of MMA (i, 0) and (i, 1)
  uint32_t b[2][2];  // B of MMA (i, 0) and (i, 1)
};

template <class Traits>
QLAB_HD WordFragments MakeWordFragments(uint32_t w_row_lo, uint32_t w_row_hi,
                                        const typename Traits::Meta& meta_lo,
                                        const typename Traits::Meta& meta_hi, int word,
                                        const U32x4& x_chunk) {
  uint32_t lo[4], hi[4];
  Traits::DecodeWord(w_row_lo, meta_lo, word, lo);
  Traits::DecodeWord(w_row_hi, meta_hi, word, hi);
  WordFragments f;
  f.a[0][0] = lo[0];
  f.a[0][1] = hi[0];
  f.a[0][2] = lo[1];
  f.a[0][3] = hi[1];
  f.a[1][0] = lo[2];
  f.a[1][1] = hi[2];
  f.a[1][2] = lo[3];
  f.a[1][3] = hi[3];
  f.b[0][0] = x_chunk.x;
  f.b[0][1] = x_chunk.y;
  f.b[1][0] = x_chunk.z;
  f.b[1][1] = x_chunk.w;
  return f;
}

// One group step's operands for lane (g, t): 32 nibbles and the group metadata of rows g ("lo")
// and g+8 ("hi").
template <class Traits>
struct GroupStep {
  U32x4 lo, hi;
  typename Traits::Meta meta_lo, meta_hi;
};

// Lane (g, t)'s view of its two weight rows: where its 16 bytes of each group step start, and the
// rows' metadata cursors. Set up once per lane, so the loop only adds group offsets.
template <class Traits>
struct LaneRows {
  const uint32_t* w_lo;  // qweight row g, word 4t
  const uint32_t* w_hi;  // qweight row g+8, word 4t
  typename Traits::Row meta_lo, meta_hi;
};

template <class Traits>
QLAB_HD LaneRows<Traits> MakeLaneRows(const FusedGemvArgs& args, int64_t row_lo, int64_t row_hi,
                                      int t) {
  const int64_t k_words = args.k / 8;
  return {args.w.qweight + row_lo * k_words + 4 * t, args.w.qweight + row_hi * k_words + 4 * t,
          Traits::RowFor(args.w, row_lo, args.groups, t),
          Traits::RowFor(args.w, row_hi, args.groups, t)};
}

template <class Traits>
QLAB_HD GroupStep<Traits> LoadGroupStep(const LaneRows<Traits>& r, int group) {
  GroupStep<Traits> s;
  s.lo = LoadStreaming16(r.w_lo + group * kWordsPerGroup);
  s.hi = LoadStreaming16(r.w_hi + group * kWordsPerGroup);
  s.meta_lo = Traits::Load(r.meta_lo, group);
  s.meta_hi = Traits::Load(r.meta_hi, group);
  return s;
}

// ---- Activations in shared memory -------------------------------------------------------------
// Eight consecutive halves x0..x7 (x.x = x0 | x1 << 16, ...) reordered to (x0,x4) (x1,x5) (x2,x6)
// (x3,x7): the pair order in which the decoders produce weights.
QLAB_HD U32x4 PermuteChunk(const U32x4& v) {
  U32x4 r;
  r.x = (v.x & 0xFFFFu) | (v.z << 16);
  r.y = (v.x >> 16) | (v.z & 0xFFFF0000u);
  r.z = (v.y & 0xFFFFu) | (v.w << 16);
  r.w = (v.y >> 16) | (v.w & 0xFFFF0000u);
  return r;
}

// 16-byte chunks per batch row of the staged slice: 16 per group plus one pad chunk, so that
// consecutive batch rows start one bank group (16 bytes) apart.
QLAB_HD int SmemRowChunks(int slice_groups_max) { return slice_groups_max * kChunksPerGroup + 1; }

// Position of logical chunk c of a batch row. Within a group, lane t reads chunks 4t + i: without
// the swizzle lanes t and t+2 would hit the same banks; XOR-ing 2 into the upper eight chunks
// spreads the four lanes of a row (and, with the pad chunk, the two rows of a quarter warp)
// over all eight 16-byte bank groups.
QLAB_HD int SmemChunkSwizzle(int c) {
  const int local = c & 15;
  return (c & ~15) | (local ^ ((local >> 3) << 1));
}

// Chunk that lane t reads for word i of the slice's group `group_in_slice`.
QLAB_HD int BChunkIndex(int group_in_slice, int t, int word) {
  return SmemChunkSwizzle(group_in_slice * kChunksPerGroup + 4 * t + word);
}

// ---- Work split -------------------------------------------------------------------------------
struct GroupRange {
  int begin;
  int end;
};

// Groups [begin, end) of K slice s of `splits` (sizes differ by at most one group).
QLAB_HD GroupRange SplitGroups(int groups, int splits, int s) {
  return {static_cast<int>(int64_t{s} * groups / splits),
          static_cast<int>(int64_t{s + 1} * groups / splits)};
}
QLAB_HD int MaxSliceGroups(int groups, int splits) { return (groups + splits - 1) / splits; }

// FP32 partial sums of split-K: [row_blocks][splits][8 batch columns][64 rows].
QLAB_HD int64_t PartialIndex(int64_t row_block, int split, int splits, int col, int local_row) {
  return ((row_block * splits + split) * kMmaN + col) * kRowsPerBlock + local_row;
}

// acc += c * scale, rows g (accumulators 0, 1) and g+8 (2, 3): one group's MMA result scaled by
// its FP16 group scales in FP32.
QLAB_HD void ApplyGroupScale(const float c[4], float scale_lo, float scale_hi, float acc[4]) {
  acc[0] = fmaf(c[0], scale_lo, acc[0]);
  acc[1] = fmaf(c[1], scale_lo, acc[1]);
  acc[2] = fmaf(c[2], scale_hi, acc[2]);
  acc[3] = fmaf(c[3], scale_hi, acc[3]);
}

// Accumulator j (0..3) of lane (g, t) in warp `warp`: row within the block and batch column.
QLAB_HD int AccLocalRow(int warp, int g, int j) { return warp * kRowsPerWarp + g + (j >> 1) * 8; }
QLAB_HD int AccCol(int t, int j) { return 2 * t + (j & 1); }

}  // namespace qlab::kernels::gemv
