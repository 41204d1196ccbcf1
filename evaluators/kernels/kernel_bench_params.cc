#include "evaluators/kernels/kernel_bench_params.h"

#include <optional>
#include <string>

#include "evaluators/kernels/cpu_gemv.h"
#include "evaluators/kernels/gemv_format.h"

namespace qlab::kernels {
namespace {

Status ValidateCpu(const KernelBenchParams& p) {
  const std::optional<CpuGemvFormat> format = ParseCpuGemvFormat(p.kernel);
  if (!format) {
    return Status::InvalidArgument("kernel_bench: datatype \"" + p.kernel +
                                   "\" has no CPU kernel (int4_asym, nvfp4, razer_fp4, int8_asym, e2m1)");
  }
  if (p.group_size != 0 && p.group_size != CpuGemvGroupSize(*format)) {
    return Status::InvalidArgument("kernel_bench: group_size " + std::to_string(p.group_size) +
                                   " is not built for " + CpuGemvFormatName(*format) +
                                   " on CPU (only " + std::to_string(CpuGemvGroupSize(*format)) + ")");
  }
  if (p.model.empty()) {
    if (p.batch < 1 || p.batch > kMaxCpuGemvBatch) {
      return Status::InvalidArgument("kernel_bench: batch must be in [1, 8], got " + std::to_string(p.batch));
    }
    if (p.n < 1 || p.n > (int64_t{1} << 24) || p.k < 128 || p.k % 128 != 0 || p.k > (int64_t{1} << 20)) {
      return Status::InvalidArgument("kernel_bench: shape [" + std::to_string(p.n) + ", " + std::to_string(p.k) +
                                     "]: n must be in [1, 2^24] and k a positive multiple of 128 up to 2^20");
    }
  } else if (p.model.size() > 4096) {
    return Status::InvalidArgument("kernel_bench: model path is longer than 4096 characters");
  }
  if (p.threads < 0 || p.threads > 1024) {
    return Status::InvalidArgument("kernel_bench: threads must be in [0, 1024], got " + std::to_string(p.threads));
  }
  if (!ParseActivationMode(p.activations)) {
    return Status::InvalidArgument("kernel_bench: activations must be fp32 or int8, got \"" + p.activations + "\"");
  }
  if (!p.isa.empty() && !ParseCpuIsa(p.isa)) {
    return Status::InvalidArgument("kernel_bench: isa must be portable, avx2, avx512 or avx512_vnni, got \"" +
                                   p.isa + "\"");
  }
  return Status::Ok();
}

}  // namespace

Status ValidateKernelBenchParams(const KernelBenchParams& p) {
  if (p.repetitions < 1 || p.repetitions > 100000) {
    return Status::InvalidArgument("kernel_bench: repetitions must be in [1, 100000], got " +
                                   std::to_string(p.repetitions));
  }
  if (p.device_kind == "cpu") return ValidateCpu(p);
  if (p.device_kind != "cuda") {
    return Status::InvalidArgument("kernel_bench: device must be cpu or cuda:N, got \"" + p.device_kind + "\"");
  }
  const std::optional<GemvKernel> kernel = ParseGemvKernelOrDatatype(p.kernel);
  if (!kernel) {
    return Status::InvalidArgument("kernel_bench: unknown kernel \"" + p.kernel +
                                   "\" (razer_w4, int4_asym, nvfp4, fp16_cublas)");
  }
  if (!p.model.empty()) {
    return Status::InvalidArgument("kernel_bench: model is measured on CPU devices only so far; on CUDA give shape");
  }
  if (p.threads != 0 || p.activations != "fp32" || !p.isa.empty()) {
    return Status::InvalidArgument("kernel_bench: threads, activations and isa are CPU params (device: cpu)");
  }
  const int own_group = *kernel == GemvKernel::kNvfp4 ? 16 : 128;
  if (p.group_size != 0 && (!IsPackedKernel(*kernel) || p.group_size != own_group)) {
    return Status::InvalidArgument("kernel_bench: group_size " + std::to_string(p.group_size) +
                                   " is not built for " + GemvKernelName(*kernel));
  }
  RETURN_IF_ERROR(ValidateGemvShape(*kernel, {p.n, p.k, p.batch}).WithContext("kernel_bench"));
  if (p.device < 0) {
    return Status::InvalidArgument("kernel_bench: device must be >= 0, got " +
                                   std::to_string(p.device));
  }
  return Status::Ok();
}

}  // namespace qlab::kernels
