// Fused-dequantization GEMV on CPUs: y[m, n] = x[m, k] * W[n, k]^T with W in one of the packed
// layouts of docs/packed-layouts.md (read in place, never repacked), x FP32, y FP32, batch m =
// 1..8, multi-threaded over rows, with an AVX-512 (VNNI where present), an AVX2 and a portable
// path chosen at run time (or forced, for tests and comparisons).
//
// Memory plan (details in cpu_gemv_simd.inc). Decoding LLM tokens is bound by reading W once
// per token: a 4-bit W moves 0.52 bytes per weight, so at the ~33 GB/s two cores read here the
// kernel must retire ~30 G weights/s per core, ~10 per cycle. Every weight byte is therefore
// loaded exactly once, 64 (AVX-512) or 32 (AVX2) bytes at a time, split into low and high
// nibbles in registers and multiplied there; nothing derived from W is stored. Everything the
// rows share is prepared once per call, outside the row loop, in `CpuGemvWorkspace`:
//   - the activations, permuted per 128-element group into [the 64 even elements | the 64 odd
//     elements], the order in which a register of low nibbles and one of high nibbles hold
//     the weights (byte j of a row: element 2j in the low nibble, 2j+1 in the high one);
//   - in the int8 activation mode, x quantized per 128-block (scale = absmax/127) with the
//     block sums that undo the weights' zero points and the +16 offset that makes E2M1-family
//     codes unsigned for `vpdpbusd` / `vpmaddubsw` (u8 x s8): dot = sum((w+16)*x) - 16*sum(x).
// Per weight group the kernels read its scale (and zero point or selector) as scalars; E2M1
// values come from a 16-entry table held in a register (`vpshufb`), RaZeR's special value
// patched into entry 8 of that table per group, so no decode table is read from memory.
// Accumulation: exact int32 dot products per group in the int8 mode, FP32 FMA otherwise; group
// scales are applied in FP32, NVFP4's E4M3 block scales per 16 elements through FP16 lanes.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "evaluators/datatypes/packing.h"

namespace qlab::kernels {

// The packed formats with CPU kernels; the names are the registry's datatype names.
enum class CpuGemvFormat { kInt4Asym, kNvfp4, kRazerFp4, kInt8Asym, kE2m1 };
inline constexpr CpuGemvFormat kAllCpuGemvFormats[] = {
    CpuGemvFormat::kInt4Asym, CpuGemvFormat::kNvfp4, CpuGemvFormat::kRazerFp4,
    CpuGemvFormat::kInt8Asym, CpuGemvFormat::kE2m1};
// "int4_asym", "nvfp4", "razer_fp4", "int8_asym", "e2m1".
const char* CpuGemvFormatName(CpuGemvFormat format);
// Inverse of CpuGemvFormatName; "razer_w4" (the CUDA kernel's name) is accepted for razer_fp4.
std::optional<CpuGemvFormat> ParseCpuGemvFormat(std::string_view name);
// The only group size each format is implemented at: 16 for nvfp4, 128 for the others.
int CpuGemvGroupSize(CpuGemvFormat format);
// Storage in bits per weight, metadata included (docs/packed-layouts.md).
double CpuGemvBitsPerWeight(CpuGemvFormat format);
// Bytes of the packed W (payload, scales, zeros or selectors, tensor scale).
int64_t CpuGemvWeightBytes(CpuGemvFormat format, int64_t n, int64_t k);

// Instruction-set paths, in increasing order of preference.
enum class CpuIsa { kPortable, kAvx2, kAvx512, kAvx512Vnni };
inline constexpr CpuIsa kAllCpuIsas[] = {CpuIsa::kPortable, CpuIsa::kAvx2, CpuIsa::kAvx512,
                                         CpuIsa::kAvx512Vnni};
// "portable", "avx2" (AVX2+FMA+F16C), "avx512" (F+BW+VL+DQ), "avx512_vnni".
const char* CpuIsaName(CpuIsa isa);
std::optional<CpuIsa> ParseCpuIsa(std::string_view name);
// Whether this build has the path and this CPU (and OS) can run it. kPortable is always true.
bool CpuIsaSupported(CpuIsa isa);
// The most preferred supported path.
CpuIsa BestCpuIsa();

// fp32: activations stay FP32 and weights are decoded to FP32. int8: activations quantized
// per 128-block to int8 (absmax/127, round to nearest even) and multiplied in integers.
enum class ActivationMode { kFp32, kInt8 };
const char* ActivationModeName(ActivationMode mode);  // "fp32", "int8"
std::optional<ActivationMode> ParseActivationMode(std::string_view name);

// A read-only view of packed weights; the buffers must outlive every call that uses it.
struct CpuWeights {
  CpuGemvFormat format = CpuGemvFormat::kInt4Asym;
  int64_t n = 0, k = 0;
  const uint8_t* qweight = nullptr;       // nibbles (k/2 bytes per row) or int8_asym bytes (k)
  const uint16_t* scales_fp16 = nullptr;  // [n, k/128]; unused by nvfp4
  const uint32_t* aux_words = nullptr;    // int4_asym zero words / razer_fp4 selector words
  const uint8_t* aux_bytes = nullptr;     // int8_asym zeros [n, k/128] / nvfp4 E4M3 [n, k/16]
  float tensor_scale = 1.0f;              // nvfp4
};
CpuWeights CpuWeightsOf(const datatypes::PackedInt4Asym& w);
CpuWeights CpuWeightsOf(const datatypes::PackedNvfp4& w);
CpuWeights CpuWeightsOf(const datatypes::PackedRazerW4& w);
CpuWeights CpuWeightsOf(const datatypes::PackedInt8Asym& w);
CpuWeights CpuWeightsOf(const datatypes::PackedE2m1& w);

// Measured with cpu_kernel_bench --prefetch (bench/results/cpu-kernels.md).
inline constexpr int kDefaultCpuGemvPrefetchBytes = 2048;

struct CpuGemvOptions {
  CpuIsa isa = CpuIsa::kPortable;  // must be supported (CpuIsaSupported)
  ActivationMode activations = ActivationMode::kFp32;
  int threads = 1;  // <= 0: all hardware threads
  // Software prefetch distance along a row's weights (bytes; 0: none). Prefetches address
  // memory past a row's end harmlessly (they never fault).
  int prefetch_bytes = kDefaultCpuGemvPrefetchBytes;
};

// Scratch reused across calls (the prepared activations); one per calling thread.
struct CpuGemvWorkspace {
  std::vector<float> xf;        // [m, k] permuted FP32 activations
  std::vector<int8_t> xq;       // [m, k] permuted int8 activations
  std::vector<float> xscale;    // [m, k/128]
  std::vector<int32_t> xsum;    // [m, k/128] sum of xq over the block
  std::vector<float> xsumf;     // [m, k/128] sum of x over the block
  std::vector<int32_t> xcorr;   // [m, k/128, 16] nvfp4: 16 * the sum of xq under each lane
};

// Largest batch.
inline constexpr int kMaxCpuGemvBatch = 8;

// OK, or INVALID_ARGUMENT naming m/n/k: m in [1, 8], 1 <= n <= 2^24, k a positive multiple of
// 128 up to 2^20, every buffer the format reads non-null.
Status ValidateCpuGemv(const CpuWeights& w, int m);

// y[b * n + i] = sum_k W[i, k] * x[b * k + kk]. FAILED_PRECONDITION for an unsupported isa.
// Deterministic for a given isa and mode, whatever the thread count.
Status CpuGemv(const CpuWeights& w, const float* x, int m, float* y, const CpuGemvOptions& options,
               CpuGemvWorkspace* workspace);

// The activations the int8 mode multiplies with, as floats (xq * scale) in the natural order:
// the reference of that mode uses them, and their distance from x is the mode's added error.
std::vector<float> Int8ActivationValues(const float* x, int m, int64_t k);

// Reads `bytes` bytes at p with the widest loads of `isa` (and software prefetch that far ahead),
// on `threads` threads, and returns a checksum (so the reads cannot be elided): the
// streaming-read reference of the benchmark.
uint64_t CpuStreamRead(const uint8_t* p, int64_t bytes, CpuIsa isa, int threads,
                       int prefetch_bytes = kDefaultCpuGemvPrefetchBytes);

}  // namespace qlab::kernels
