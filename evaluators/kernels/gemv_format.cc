// Kernel names, shape rules and byte accounting (see gemv_format.h).
#include "evaluators/kernels/gemv_format.h"

#include <string>

#include "common/int_math.h"

namespace qlab::kernels {

std::string GemvShapeText(const GemvShape& s) {
  return "m=" + std::to_string(s.m) + " n=" + std::to_string(s.n) + " k=" + std::to_string(s.k);
}

const char* GemvKernelName(GemvKernel kernel) {
  switch (kernel) {
    case GemvKernel::kRazerW4:
      return "razer_w4";
    case GemvKernel::kInt4Asym:
      return "int4_asym";
    case GemvKernel::kNvfp4:
      return "nvfp4";
    case GemvKernel::kFp16Cublas:
      return "fp16_cublas";
  }
  return "unknown";
}

std::optional<GemvKernel> ParseGemvKernel(std::string_view name) {
  for (GemvKernel kernel : kAllGemvKernels) {
    if (name == GemvKernelName(kernel)) return kernel;
  }
  return std::nullopt;
}

std::optional<GemvKernel> ParseGemvKernelOrDatatype(std::string_view name) {
  return ParseGemvKernel(name == "razer_fp4" ? "razer_w4" : name);
}

Status ValidateGemvShape(GemvKernel kernel, const GemvShape& s) {
  const std::string where = std::string(GemvKernelName(kernel)) + " GEMV (" + GemvShapeText(s) + ")";
  if (s.m < 1 || s.m > kMaxGemvBatch) {
    return Status::InvalidArgument(where + ": batch m must be in [1, " +
                                   std::to_string(kMaxGemvBatch) + "]");
  }
  if (s.n < 1 || s.n > (int64_t{1} << 24)) {
    return Status::InvalidArgument(where + ": n must be in [1, 2^24]");
  }
  if (IsPackedKernel(kernel)) {
    if (s.k < kGemvGroupK || s.k % kGemvGroupK != 0 || s.k > (int64_t{1} << 20)) {
      return Status::InvalidArgument(where + ": k must be a positive multiple of 128 up to 2^20");
    }
  } else if (s.k < 8 || s.k % 8 != 0 || s.k > (int64_t{1} << 20)) {
    return Status::InvalidArgument(where + ": k must be a positive multiple of 8 up to 2^20");
  }
  return Status::Ok();
}

double GemvBitsPerWeight(GemvKernel kernel) {
  switch (kernel) {
    case GemvKernel::kRazerW4:
      return 4.0 + (16.0 + 2.0) / 128.0;
    case GemvKernel::kInt4Asym:
      return 4.0 + (16.0 + 4.0) / 128.0;
    case GemvKernel::kNvfp4:
      return 4.0 + 8.0 / 16.0;
    case GemvKernel::kFp16Cublas:
      return 16.0;
  }
  return 0.0;
}

int64_t GemvBytesMoved(GemvKernel kernel, const GemvShape& s) {
  const int64_t activations = int64_t{2} * s.m * s.k + int64_t{2} * s.m * s.n;
  const int64_t payload = s.n * s.k / 2;
  const int64_t groups = s.k / kGemvGroupK;
  switch (kernel) {
    case GemvKernel::kRazerW4:
      return activations + payload + s.n * groups * 2 + s.n * CeilDiv(groups, 16) * 4;
    case GemvKernel::kInt4Asym:
      return activations + payload + s.n * groups * 2 + s.n * CeilDiv(groups, 8) * 4;
    case GemvKernel::kNvfp4:
      return activations + payload + s.n * (s.k / 16) + 4;
    case GemvKernel::kFp16Cublas:
      return activations + s.n * s.k * 2;
  }
  return 0;
}

}  // namespace qlab::kernels
