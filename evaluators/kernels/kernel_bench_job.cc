// kernel_bench jobs (see kernel_bench_job.h). Built with CUDA when QLAB_KERNELS_HAVE_CUDA is
// defined; otherwise every job is UNAVAILABLE after its parameters are checked.
#include "evaluators/kernels/kernel_bench_job.h"

#include <cmath>
#include <cstdio>
#include <optional>
#include <string>

#include "evaluators/kernels/gemv_format.h"
#include "evaluators/kernels/kernel_bench_params.h"

#if defined(QLAB_KERNELS_HAVE_CUDA)
#include <cuda_runtime.h>

#include "evaluators/kernels/gemv_bench.h"
#include "evaluators/kernels/gemv_cuda.h"
#endif

namespace qlab::kernels {
namespace {

Status ValidateParams(const KernelBenchParams& p, GemvKernel* kernel) {
  RETURN_IF_ERROR(ValidateKernelBenchParams(p));
  *kernel = *ParseGemvKernel(p.kernel);
  return Status::Ok();
}

#if defined(QLAB_KERNELS_HAVE_CUDA)
void Add(JobOutput& out, const std::string& name, double value, const std::string& unit,
         bool higher_is_better, double stderr_value = 0) {
  out.metrics.push_back({name, value, unit, stderr_value, higher_is_better});
}

KernelBenchCheck CheckOf(const GemvTiming& t) {
  KernelBenchCheck c;
  c.kernel = t.kernel;
  c.shape = t.shape;
  c.rows_checked = t.rows_checked;
  c.comparison = t.check;
  c.worst_batch = t.worst_batch;
  c.worst_row = t.worst_row;
  return c;
}
#endif

}  // namespace

Status KernelBenchCheckStatus(const KernelBenchCheck& check) {
  const std::string what = std::string("kernel_bench: ") + GemvKernelName(check.kernel) +
                           " output check failed for " + GemvShapeText(check.shape) + ": ";
  if (check.rows_checked <= 0) return Status::Internal(what + "no rows were checked");
  const GemvComparison& c = check.comparison;
  if (c.ok()) return Status::Ok();
  char buf[256];
  std::snprintf(buf, sizeof(buf),
                "max_rel_err %.3g %s bound %.3g (%lld non-finite) at batch row %d, weight row "
                "%lld; %lld rows checked",
                c.max_rel_err, c.max_rel_err > c.bound ? ">" : "<=", c.bound,
                static_cast<long long>(c.non_finite), check.worst_batch,
                static_cast<long long>(check.worst_row),
                static_cast<long long>(check.rows_checked));
  return Status::Internal(what + buf);
}

bool CudaAvailable(std::string* why_not) {
#if defined(QLAB_KERNELS_HAVE_CUDA)
  return CudaDeviceAvailable(why_not);
#else
  if (why_not != nullptr) *why_not = "built without CUDA (nvcc was not found at configure time)";
  return false;
#endif
}

std::vector<DeviceInfo> CudaDevices(std::string* why_not) {
  std::vector<DeviceInfo> devices;
  if (!CudaAvailable(why_not)) return devices;
#if defined(QLAB_KERNELS_HAVE_CUDA)
  int count = 0, driver = 0;
  if (cudaGetDeviceCount(&count) != cudaSuccess) return devices;
  cudaDriverGetVersion(&driver);
  for (int i = 0; i < count; ++i) {
    cudaDeviceProp prop{};
    if (cudaGetDeviceProperties(&prop, i) != cudaSuccess) continue;
    DeviceInfo d;
    d.device_class = 2;
    d.name = "cuda:" + std::to_string(i);
    d.model = prop.name;
    d.memory_bytes = prop.totalGlobalMem;
    d.cores = prop.multiProcessorCount;
    d.driver = std::to_string(driver / 1000) + "." + std::to_string(driver % 1000 / 10);
    d.compute_capability = std::to_string(prop.major) + "." + std::to_string(prop.minor);
    int khz = 0;
    if (cudaDeviceGetAttribute(&khz, cudaDevAttrClockRate, i) == cudaSuccess) {
      d.clock_mhz = khz / 1000;
    }
    devices.push_back(d);
  }
  cudaGetLastError();
#endif
  return devices;
}

StatusOr<JobOutput> RunKernelBenchJob(const KernelBenchParams& params, JobContext& ctx) {
  GemvKernel kernel;
  RETURN_IF_ERROR(ValidateParams(params, &kernel));
  std::string why_not;
  if (!CudaAvailable(&why_not)) return Status::Unavailable("kernel_bench: " + why_not);
#if !defined(QLAB_KERNELS_HAVE_CUDA)
  (void)ctx;
  return Status::Unavailable("kernel_bench: built without CUDA");
#else
  GemvBenchOptions options;
  options.repetitions = params.repetitions;
  ASSIGN_OR_RETURN(std::unique_ptr<GemvBenchmark> bench,
                   GemvBenchmark::Create(params.device, options));
  const GemvShape shape{params.n, params.k, params.batch};
  if (ctx.cancelled()) return Status::Cancelled("kernel_bench cancelled");
  ASSIGN_OR_RETURN(const double copy_gbps, bench->CopyBandwidthGbps());
  ctx.ReportProgress(0.15);
  ASSIGN_OR_RETURN(const GemvTiming cublas, bench->Run(GemvKernel::kFp16Cublas, shape, &ctx));
  // A wrong baseline would make the speedup meaningless: its check fails the job as well.
  RETURN_IF_ERROR(KernelBenchCheckStatus(CheckOf(cublas)));
  ctx.ReportProgress(kernel == GemvKernel::kFp16Cublas ? 0.95 : 0.55);
  GemvTiming timing = cublas;
  if (kernel != GemvKernel::kFp16Cublas) {
    ASSIGN_OR_RETURN(timing, bench->Run(kernel, shape, &ctx));
    RETURN_IF_ERROR(KernelBenchCheckStatus(CheckOf(timing)));
  }
  ctx.ReportProgress(1.0);

  JobOutput out;
  // Standard error of a median ~ 1.2533 * sigma / sqrt(n).
  const double median_se = 1.2533 * timing.stddev_us / std::sqrt(double(timing.repetitions));
  Add(out, "median_us", timing.median_us, "us", false, median_se);
  Add(out, "p10_us", timing.p10_us, "us", false);
  Add(out, "p90_us", timing.p90_us, "us", false);
  Add(out, "stddev_us", timing.stddev_us, "us", false);
  Add(out, "effective_gbps", timing.effective_gbps, "GB/s", true);
  Add(out, "read_bw_gbps", timing.read.read_bw_gbps, "GB/s", true);
  Add(out, "pct_of_read_bw", timing.pct_of_read_bw(), "%", true);
  Add(out, "copy_bw_gbps", copy_gbps, "GB/s", true);
  Add(out, "pct_of_copy_bw", 100.0 * timing.effective_gbps / copy_gbps, "%", true);
  Add(out, "cublas_fp16_median_us", cublas.median_us, "us", false);
  Add(out, "speedup_vs_cublas_fp16", cublas.median_us / timing.median_us, "x", true);
  Add(out, "max_rel_err", timing.check.max_rel_err, "", false);
  Add(out, "check_ok", timing.check.ok() ? 1.0 : 0.0, "", true);
  Add(out, "rows_checked", static_cast<double>(timing.rows_checked), "rows", true);
  Add(out, "bytes_moved", static_cast<double>(timing.bytes_moved), "bytes", false);
  Add(out, "bits_per_weight", GemvBitsPerWeight(kernel), "bits", false);
  Add(out, "rotation_copies", timing.rotation_copies, "", true);
  Add(out, "launches_per_sample", timing.launches_per_sample, "launches", true);
  Add(out, "warmup_ms", timing.warmup_ms, "ms", true);
  if (timing.launch) {
    const GemvLaunchConfig& c = *timing.launch;
    Add(out, "launch_threads", c.threads_per_block, "threads per block", false);
    Add(out, "launch_blocks", static_cast<double>(c.row_blocks * c.k_splits), "blocks", false);
    Add(out, "launch_grid_x", static_cast<double>(c.row_blocks), "row blocks of 64 rows", false);
    Add(out, "launch_grid_y", c.k_splits, "K splits", false);
    Add(out, "launch_smem_bytes", c.smem_bytes, "bytes per block", false);
    Add(out, "launch_blocks_per_sm", c.blocks_per_sm, "blocks per SM", true);
    Add(out, "launch_waves", c.waves, "waves", false);
    Add(out, "workspace_bytes", static_cast<double>(c.workspace_bytes), "bytes", false);
  }
  out.artifacts.push_back({"kernel_bench.json", "application/json",
                           GemvTimingToJson(timing, bench->device(), copy_gbps, cublas.median_us)});
  // Provenance: which kernel ran and how it was launched (the cuBLAS baseline is the vendor's).
  std::string context = std::string("{\"kernel\":{\"name\":\"") + GemvKernelName(kernel) +
                        "\",\"backend\":\"" +
                        (kernel == GemvKernel::kFp16Cublas ? "vendor" : "native") + "\"";
  if (timing.launch) {
    const GemvLaunchConfig& c = *timing.launch;
    context += ",\"launch\":{\"threads_per_block\":" + std::to_string(c.threads_per_block) +
               ",\"row_blocks\":" + std::to_string(c.row_blocks) +
               ",\"k_splits\":" + std::to_string(c.k_splits) +
               ",\"smem_bytes\":" + std::to_string(c.smem_bytes) + "}";
  }
  out.context_json = context + "}}";
  return out;
#endif
}

}  // namespace qlab::kernels
