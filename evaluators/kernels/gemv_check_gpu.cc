// GPU half of the GEMV checks (gemv_check.h): runs a case on the current CUDA device twice and
// compares the first output with the CPU reference and the second with the first.
#include <cuda_runtime.h>

#include <functional>
#include <memory>

#include "evaluators/kernels/gemv_check.h"
#include "evaluators/kernels/gemv_cuda.h"

namespace qlab::kernels {
namespace {

Status RunTwice(const HostProblem& p, std::string* launch, std::vector<uint16_t>* y1,
                std::vector<uint16_t>* y2) {
  const GemvCheckCase& c = p.c;
  const GemvShape& s = c.shape;
  ASSIGN_OR_RETURN(DeviceBuffer x, DeviceBuffer::FromHost(p.x.data(), int64_t{2} * s.m * s.k));
  ASSIGN_OR_RETURN(DeviceBuffer y, DeviceBuffer::Allocate(int64_t{2} * s.m * s.n));
  const size_t y_bytes = static_cast<size_t>(s.m) * s.n * 2;
  y1->resize(static_cast<size_t>(s.m) * s.n);
  y2->resize(y1->size());

  std::function<Status()> run;
  DevicePackedWeights w;
  GemvWorkspace workspace;
  GemvLaunchConfig config;
  std::unique_ptr<CublasFp16Gemv> cublas;
  switch (c.kernel) {
    case GemvKernel::kRazerW4: {
      ASSIGN_OR_RETURN(w, UploadPacked(p.razer));
      break;
    }
    case GemvKernel::kInt4Asym: {
      ASSIGN_OR_RETURN(w, UploadPacked(p.int4));
      break;
    }
    case GemvKernel::kNvfp4: {
      ASSIGN_OR_RETURN(w, UploadPacked(p.nvfp4));
      break;
    }
    case GemvKernel::kFp16Cublas: {
      ASSIGN_OR_RETURN(w, UploadFp16Weights(p.fp16_weights.data(), s.n, s.k));
      break;
    }
  }
  if (IsPackedKernel(c.kernel)) {
    int device = 0;
    RETURN_IF_ERROR(CudaStatus(cudaGetDevice(&device), "cudaGetDevice"));
    ASSIGN_OR_RETURN(GemvDeviceLimits limits, QueryGemvDeviceLimits(c.kernel, device));
    ASSIGN_OR_RETURN(config, PlanForCheck(c, limits));
    *launch = config.ToString();
    RETURN_IF_ERROR(workspace.Reserve(config.workspace_bytes));
    run = [&] {
      return LaunchFusedGemv(config, w.pointers(), w.tensor_scale, x.as<const uint16_t>(),
                             y.as<uint16_t>(), &workspace, nullptr);
    };
  } else {
    ASSIGN_OR_RETURN(cublas, CublasFp16Gemv::Create());
    run = [&] {
      return cublas->Run(w.qweight.as<const uint16_t>(), x.as<const uint16_t>(), y.as<uint16_t>(),
                         s, nullptr);
    };
  }
  for (std::vector<uint16_t>* out : {y1, y2}) {
    RETURN_IF_ERROR(CudaStatus(cudaMemset(y.get(), 0xFF, y_bytes), "cudaMemset y"));  // NaNs
    RETURN_IF_ERROR(run());
    RETURN_IF_ERROR(CudaStatus(cudaDeviceSynchronize(), "kernel execution"));
    RETURN_IF_ERROR(CudaStatus(cudaMemcpy(out->data(), y.get(), y_bytes, cudaMemcpyDeviceToHost),
                               "copying y to the host"));
  }
  return Status::Ok();
}

}  // namespace

GemvCheckResult RunGpuCheck(const GemvCheckCase& c) {
  GemvCheckResult r;
  r.c = c;
  StatusOr<HostProblem> problem = MakeHostProblem(c);
  if (!problem.ok()) {
    r.status = problem.status();
    return r;
  }
  std::vector<uint16_t> y1, y2;
  r.status = RunTwice(*problem, &r.launch, &y1, &y2);
  if (!r.status.ok()) return r;
  r.cmp = CompareGemv(problem->ref, y1);
  r.deterministic = y1 == y2;
  return r;
}

}  // namespace qlab::kernels
