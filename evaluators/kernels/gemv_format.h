// The GEMV problems the kernels solve, and the facts about them that need no GPU: kernel names,
// shape rules, and the bytes each kernel must move (for effective bandwidth).
//
// Problem: y[m, n] = x[m, k] * W[n, k]^T with x FP16 activations (m = batch, 1..8), W one of the
// packed 4-bit formats of docs/packed-layouts.md (or plain FP16 for the cuBLAS baseline), FP32
// accumulation and FP16 y. Everything here is plain C++ and thread-safe.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "common/status.h"

namespace qlab::kernels {

// Which GEMV implementation runs. The names are the `kernel` values of kernel_bench jobs.
enum class GemvKernel {
  kRazerW4 = 0,     // "razer_w4": razer_fp4, E2M1 + per-group special value, FP16 scale per 128
  kInt4Asym = 1,    // "int4_asym": AWQ-style unsigned INT4, FP16 scale + 4-bit zero per 128
  kNvfp4 = 2,       // "nvfp4": E2M1, E4M3 scale per 16, FP32 tensor scale
  kFp16Cublas = 3,  // "fp16_cublas": FP16 weights through cublasGemmEx (the baseline)
};
inline constexpr GemvKernel kAllGemvKernels[] = {GemvKernel::kRazerW4, GemvKernel::kInt4Asym,
                                                 GemvKernel::kNvfp4, GemvKernel::kFp16Cublas};

// "razer_w4", "int4_asym", "nvfp4", "fp16_cublas".
const char* GemvKernelName(GemvKernel kernel);
// Inverse of GemvKernelName; nullopt for any other string.
std::optional<GemvKernel> ParseGemvKernel(std::string_view name);
// ParseGemvKernel that also takes the registry's name of a kernel's datatype: razer_fp4 for
// razer_w4 (the other kernels share their datatype's name).
std::optional<GemvKernel> ParseGemvKernelOrDatatype(std::string_view name);
// True for the three fused-dequantization kernels (false for the cuBLAS baseline).
inline bool IsPackedKernel(GemvKernel kernel) { return kernel != GemvKernel::kFp16Cublas; }

// Largest batch (rows of x) the fused kernels accept: the MMA's n dimension is 8.
inline constexpr int kMaxGemvBatch = 8;
// Every packed kernel walks K in steps of one 128-element group (NVFP4: eight 16-blocks).
inline constexpr int64_t kGemvGroupK = 128;

struct GemvShape {
  int64_t n = 0;  // output features (rows of W)
  int64_t k = 0;  // reduction length (columns of W, columns of x)
  int m = 1;      // batch (rows of x and y)
};

// "m=1 n=4096 k=4096", the shape as errors name it.
std::string GemvShapeText(const GemvShape& shape);

// OK, or INVALID_ARGUMENT naming m/n/k: m in [1, 8]; 1 <= n <= 2^24; packed kernels need k a
// positive multiple of 128 up to 2^20; the cuBLAS baseline needs k a positive multiple of 8.
Status ValidateGemvShape(GemvKernel kernel, const GemvShape& shape);

// Storage of W in bits per weight, all metadata included (docs/packed-layouts.md).
double GemvBitsPerWeight(GemvKernel kernel);

// Bytes a GEMV must move at least: every byte of the packed W (payload, scales, zeros or
// selectors, tensor scale), of x (m*k*2) and of y (m*n*2). The split-K workspace is not counted:
// it is an implementation choice, and it stays in L2. REQUIRES: a valid shape.
int64_t GemvBytesMoved(GemvKernel kernel, const GemvShape& shape);

}  // namespace qlab::kernels
