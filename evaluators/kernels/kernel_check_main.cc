// kernel_check: checks the GEMV kernels against the CPU reference without GTest, for GPU
// machines (bench/gpu-check.sh). First the host emulator of the fused kernels (runs anywhere),
// then, when a GPU is present, every case of StandardCheckCases on the GPU.
//
// Usage: kernel_check [--quick] [--allow-no-gpu] [--emulator-only]
//   --quick          skip the LLM-sized GPU cases
//   --allow-no-gpu   exit 0 (not 2) when there is no GPU and the host checks passed
//   --emulator-only  run only the host emulator checks
// Exit status: 0 all checks passed; 1 a check failed; 2 no GPU (host checks passed); 3 usage.
#include <cstdio>
#include <cstring>
#include <string>

#include "evaluators/kernels/gemv_check.h"

#if defined(QLAB_KERNELS_HAVE_CUDA)
#include <cuda_runtime.h>

#include "evaluators/kernels/gemv_cuda.h"
#endif

namespace {

using qlab::kernels::GemvCheckResult;

int Report(const GemvCheckResult& r, int* failures) {
  std::printf("%s\n", r.ToString().c_str());
  std::fflush(stdout);
  if (!r.ok()) ++*failures;
  return r.ok() ? 0 : 1;
}

#if defined(QLAB_KERNELS_HAVE_CUDA)
// The launcher must refuse a config planned for another shape, naming m/n/k.
bool LauncherRejectsMismatchedConfig() {
  using namespace qlab::kernels;
  auto config = PlanFusedGemv(GemvKernel::kRazerW4, {128, 256, 1}, GemvDeviceLimits{});
  if (!config.ok()) return false;
  config->shape.k = 384;
  gemv::PackedPointers p;
  const qlab::Status s = LaunchFusedGemv(*config, p, 1.0f, nullptr, nullptr, nullptr, nullptr);
  return s.code() == qlab::StatusCode::kInvalidArgument &&
         s.message().find("k=384") != std::string::npos;
}
#endif

}  // namespace

int main(int argc, char** argv) {
  bool quick = false, allow_no_gpu = false, emulator_only = false;
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--quick") == 0) {
      quick = true;
    } else if (std::strcmp(argv[i], "--allow-no-gpu") == 0) {
      allow_no_gpu = true;
    } else if (std::strcmp(argv[i], "--emulator-only") == 0) {
      emulator_only = true;
    } else {
      std::fprintf(stderr, "usage: %s [--quick] [--allow-no-gpu] [--emulator-only]\n", argv[0]);
      return 3;
    }
  }
  int failures = 0, cases = 0;
  std::printf("== host emulator of the fused kernels vs CPU reference (bound %.1g)\n",
              qlab::kernels::kGemvRelErrBound);
  for (const auto& c : qlab::kernels::EmulatorCheckCases()) {
    Report(qlab::kernels::RunEmulatorCheck(c), &failures);
    ++cases;
  }
  if (emulator_only) {
    std::printf("kernel_check: %d host checks, %d failed\n", cases, failures);
    return failures > 0 ? 1 : 0;
  }

#if !defined(QLAB_KERNELS_HAVE_CUDA)
  std::printf("no GPU: kernel_check was built without CUDA; GPU checks skipped\n");
  std::printf("kernel_check: %d host checks, %d failed\n", cases, failures);
  return failures > 0 ? 1 : (allow_no_gpu ? 0 : 2);
#else
  std::string why_not;
  if (!qlab::kernels::CudaDeviceAvailable(&why_not)) {
    std::printf("%s; GPU checks skipped\n", why_not.c_str());
    std::printf("kernel_check: %d host checks, %d failed\n", cases, failures);
    return failures > 0 ? 1 : (allow_no_gpu ? 0 : 2);
  }
  cudaDeviceProp prop{};
  cudaGetDeviceProperties(&prop, 0);
  std::printf("== GPU: %s (sm_%d%d, %d SMs) vs CPU reference (bound %.1g)\n", prop.name, prop.major,
              prop.minor, prop.multiProcessorCount, qlab::kernels::kGemvRelErrBound);
  if (!LauncherRejectsMismatchedConfig()) {
    std::printf("FAIL launcher accepted a launch config planned for another shape\n");
    ++failures;
  }
  ++cases;
  for (const auto& c : qlab::kernels::StandardCheckCases(quick)) {
    Report(qlab::kernels::RunGpuCheck(c), &failures);
    ++cases;
  }
  std::printf("kernel_check: %d checks, %d failed\n", cases, failures);
  return failures > 0 ? 1 : 0;
#endif
}
