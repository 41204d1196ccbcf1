#include "evaluators/kernels/kernel_bench_params.h"

#include <optional>
#include <string>

#include "evaluators/kernels/gemv_format.h"

namespace qlab::kernels {

Status ValidateKernelBenchParams(const KernelBenchParams& p) {
  const std::optional<GemvKernel> kernel = ParseGemvKernel(p.kernel);
  if (!kernel) {
    return Status::InvalidArgument("kernel_bench: unknown kernel \"" + p.kernel +
                                   "\" (razer_w4, int4_asym, nvfp4, fp16_cublas)");
  }
  RETURN_IF_ERROR(ValidateGemvShape(*kernel, {p.n, p.k, p.batch}).WithContext("kernel_bench"));
  if (p.repetitions < 1 || p.repetitions > 100000) {
    return Status::InvalidArgument("kernel_bench: repetitions must be in [1, 100000], got " +
                                   std::to_string(p.repetitions));
  }
  if (p.device < 0) {
    return Status::InvalidArgument("kernel_bench: device must be >= 0, got " +
                                   std::to_string(p.device));
  }
  return Status::Ok();
}

}  // namespace qlab::kernels
