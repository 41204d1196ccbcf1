// GEMV benchmark harness (see gemv_bench.h).
#include "evaluators/kernels/gemv_bench.h"

#include <cuda_runtime.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <functional>
#include <numeric>
#include <vector>

#include "evaluators/kernels/gemv_synthetic.h"

namespace qlab::kernels {
namespace {

constexpr int64_t kMiB = 1 << 20;

Status CheckCancelled(const JobContext* ctx) {
  if (ctx != nullptr && ctx->cancelled()) return Status::Cancelled("kernel benchmark cancelled");
  return Status::Ok();
}

// Nearest-rank percentile of sorted values.
double Percentile(const std::vector<float>& sorted, double q) {
  const size_t i =
      static_cast<size_t>(std::clamp(std::ceil(q * static_cast<double>(sorted.size())) - 1.0, 0.0,
                                     static_cast<double>(sorted.size() - 1)));
  return sorted[i];
}

double Median(const std::vector<float>& sorted) {
  const size_t n = sorted.size();
  return n % 2 == 1 ? sorted[n / 2]
                    : 0.5 * (static_cast<double>(sorted[n / 2 - 1]) + sorted[n / 2]);
}

std::string JsonString(const std::string& s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (static_cast<unsigned char>(c) < 0x20) {
      char buf[8];
      std::snprintf(buf, sizeof(buf), "\\u%04x", c);
      out += buf;
    } else {
      out += c;
    }
  }
  return out + "\"";
}

std::string JsonNumber(double v) {
  if (!std::isfinite(v)) return "null";
  char buf[40];
  std::snprintf(buf, sizeof(buf), "%.6g", v);
  return buf;
}

// Host reference for the sampled rows of the synthetic problem, [m, rows.size()].
std::vector<double> SampledReference(GemvKernel kernel, const GemvShape& shape, uint64_t seed,
                                     const std::vector<int64_t>& rows) {
  const std::vector<uint16_t> x = SynthActivations(shape, seed);
  switch (kernel) {
    case GemvKernel::kRazerW4:
      return ReferenceGemv(SynthRazerW4Rows(shape, seed, rows), x.data(), shape.m);
    case GemvKernel::kInt4Asym:
      return ReferenceGemv(SynthInt4AsymRows(shape, seed, rows), x.data(), shape.m);
    case GemvKernel::kNvfp4:
      return ReferenceGemv(SynthNvfp4Rows(shape, seed, rows), x.data(), shape.m);
    case GemvKernel::kFp16Cublas: {
      const std::vector<uint16_t> w = SynthFp16WeightRows(shape, seed, rows);
      return ReferenceGemvFp16(w.data(), static_cast<int64_t>(rows.size()), shape.k, x.data(),
                               shape.m);
    }
  }
  return {};
}

}  // namespace

std::string GemvDeviceDescription::ToString() const {
  char buf[256];
  std::snprintf(
      buf, sizeof(buf),
      "cuda:%d %s (sm_%s, %d SMs, %.1f GiB, L2 %.0f MiB, %d MHz SM, %d-bit bus, driver %s)", device,
      name.c_str(), compute_capability.c_str(), num_sms,
      static_cast<double>(memory_bytes) / (1 << 30), static_cast<double>(l2_bytes) / kMiB,
      sm_clock_mhz, memory_bus_bits, driver.c_str());
  return buf;
}

GemvBenchmark::~GemvBenchmark() {
  cublas_.reset();
  if (stream_ != nullptr) cudaStreamDestroy(stream_);
}

StatusOr<std::unique_ptr<GemvBenchmark>> GemvBenchmark::Create(int device,
                                                               const GemvBenchOptions& options) {
  std::string why_not;
  if (!CudaDeviceAvailable(&why_not)) return Status::Unavailable(why_not);
  int count = 0;
  RETURN_IF_ERROR(CudaStatus(cudaGetDeviceCount(&count), "cudaGetDeviceCount"));
  if (device < 0 || device >= count) {
    return Status::InvalidArgument("CUDA device " + std::to_string(device) + " does not exist (" +
                                   std::to_string(count) + " present)");
  }
  if (options.repetitions < 1 || options.warmup < 0) {
    return Status::InvalidArgument("benchmark needs repetitions >= 1 and warmup >= 0");
  }
  RETURN_IF_ERROR(CudaStatus(cudaSetDevice(device), "cudaSetDevice"));
  std::unique_ptr<GemvBenchmark> b(new GemvBenchmark());
  b->options_ = options;

  cudaDeviceProp prop{};
  RETURN_IF_ERROR(CudaStatus(cudaGetDeviceProperties(&prop, device), "cudaGetDeviceProperties"));
  GemvDeviceDescription& d = b->device_;
  d.device = device;
  d.name = prop.name;
  d.compute_capability = std::to_string(prop.major) + "." + std::to_string(prop.minor);
  d.num_sms = prop.multiProcessorCount;
  d.memory_bytes = static_cast<int64_t>(prop.totalGlobalMem);
  d.l2_bytes = prop.l2CacheSize;
  d.memory_bus_bits = prop.memoryBusWidth;
  int khz = 0;
  if (cudaDeviceGetAttribute(&khz, cudaDevAttrClockRate, device) == cudaSuccess) {
    d.sm_clock_mhz = khz / 1000;
  }
  if (cudaDeviceGetAttribute(&khz, cudaDevAttrMemoryClockRate, device) == cudaSuccess) {
    d.memory_clock_mhz = khz / 1000;
  }
  cudaGetLastError();  // the two optional attributes may be unsupported
  int driver = 0;
  if (cudaDriverGetVersion(&driver) == cudaSuccess) d.driver = std::to_string(driver);

  RETURN_IF_ERROR(
      CudaStatus(cudaStreamCreateWithFlags(&b->stream_, cudaStreamNonBlocking), "stream"));
  ASSIGN_OR_RETURN(b->cublas_, CublasFp16Gemv::Create());
  return b;
}

StatusOr<std::vector<float>> GemvBenchmark::TimeLaunches(const std::function<Status(int)>& launch,
                                                         int repetitions, int warmup) {
  for (int i = 0; i < warmup; ++i) RETURN_IF_ERROR(launch(i));
  RETURN_IF_ERROR(CudaStatus(cudaStreamSynchronize(stream_), "warm-up"));
  std::vector<cudaEvent_t> start(repetitions), stop(repetitions);
  Status status;
  int created = 0;
  for (; created < repetitions && status.ok(); ++created) {
    status = CudaStatus(cudaEventCreate(&start[created]), "cudaEventCreate");
    if (status.ok()) status = CudaStatus(cudaEventCreate(&stop[created]), "cudaEventCreate");
  }
  for (int r = 0; r < repetitions && status.ok(); ++r) {
    status = CudaStatus(cudaEventRecord(start[r], stream_), "cudaEventRecord");
    if (status.ok()) status = launch(warmup + r);
    if (status.ok()) status = CudaStatus(cudaEventRecord(stop[r], stream_), "cudaEventRecord");
  }
  if (status.ok()) status = CudaStatus(cudaStreamSynchronize(stream_), "timed launches");
  std::vector<float> us(repetitions, 0.f);
  for (int r = 0; r < repetitions && status.ok(); ++r) {
    float ms = 0;
    status = CudaStatus(cudaEventElapsedTime(&ms, start[r], stop[r]), "cudaEventElapsedTime");
    us[r] = ms * 1000.f;
  }
  for (int i = 0; i < created; ++i) {
    if (start[i] != nullptr) cudaEventDestroy(start[i]);
    if (stop[i] != nullptr) cudaEventDestroy(stop[i]);
  }
  if (!status.ok()) return status;
  return us;
}

StatusOr<double> GemvBenchmark::CopyBandwidthGbps() {
  if (copy_gbps_) return *copy_gbps_;
  size_t free_bytes = 0, total_bytes = 0;
  RETURN_IF_ERROR(CudaStatus(cudaMemGetInfo(&free_bytes, &total_bytes), "cudaMemGetInfo"));
  int64_t bytes = std::max<int64_t>(256 * kMiB, 4 * device_.l2_bytes);
  bytes = std::min<int64_t>(bytes, static_cast<int64_t>(free_bytes) / 4);
  bytes = bytes / kMiB * kMiB;
  if (bytes < 16 * kMiB) return Status::ResourceExhausted("no memory for the copy benchmark");
  ASSIGN_OR_RETURN(DeviceBuffer src, DeviceBuffer::Allocate(bytes));
  ASSIGN_OR_RETURN(DeviceBuffer dst, DeviceBuffer::Allocate(bytes));
  RETURN_IF_ERROR(CudaStatus(cudaMemsetAsync(src.get(), 1, bytes, stream_), "cudaMemset"));
  auto copy = [&](int) {
    return CudaStatus(cudaMemcpyAsync(dst.get(), src.get(), static_cast<size_t>(bytes),
                                      cudaMemcpyDeviceToDevice, stream_),
                      "cudaMemcpyAsync device to device");
  };
  ASSIGN_OR_RETURN(std::vector<float> us, TimeLaunches(copy, 30, 5));
  std::sort(us.begin(), us.end());
  copy_gbps_ = 2.0 * static_cast<double>(bytes) / (Median(us) * 1e3);
  return *copy_gbps_;
}

StatusOr<GemvTiming> GemvBenchmark::Run(GemvKernel kernel, const GemvShape& shape,
                                        const JobContext* ctx) {
  RETURN_IF_ERROR(ValidateGemvShape(kernel, shape));
  RETURN_IF_ERROR(CheckCancelled(ctx));
  GemvTiming t;
  t.kernel = kernel;
  t.shape = shape;
  t.repetitions = options_.repetitions;
  t.bytes_moved = GemvBytesMoved(kernel, shape);

  // Plan first (fused kernels), so a bad shape fails before allocating anything.
  GemvWorkspace workspace;
  if (IsPackedKernel(kernel)) {
    ASSIGN_OR_RETURN(GemvLaunchConfig config,
                     PlanFusedGemvForDevice(kernel, shape, options_.forced_splits));
    RETURN_IF_ERROR(workspace.Reserve(config.workspace_bytes));
    t.launch = config;
    t.variant = std::string(GemvKernelName(kernel)) + "/mma_m16n8k16_splitk";
  } else {
    t.variant = "fp16_cublas/cublasGemmEx_compute32f";
  }

  // Enough weight copies that a launch never finds its weights in L2.
  const int64_t weight_bytes = t.bytes_moved - int64_t{2} * shape.m * (shape.k + shape.n);
  const int64_t rotate = options_.rotate_bytes > 0 ? options_.rotate_bytes : 2 * device_.l2_bytes;
  size_t free_bytes = 0, total_bytes = 0;
  RETURN_IF_ERROR(CudaStatus(cudaMemGetInfo(&free_bytes, &total_bytes), "cudaMemGetInfo"));
  int copies =
      static_cast<int>(std::clamp<int64_t>((rotate + weight_bytes - 1) / weight_bytes, 1, 64));
  copies = static_cast<int>(std::min<int64_t>(
      copies, std::max<int64_t>(1, static_cast<int64_t>(free_bytes * 0.7) / weight_bytes)));
  if (weight_bytes > static_cast<int64_t>(free_bytes * 0.9)) {
    return Status::ResourceExhausted("weights of " + std::to_string(weight_bytes) +
                                     " bytes do not fit in free device memory");
  }
  t.rotation_copies = copies;
  std::vector<DevicePackedWeights> weights;
  for (int i = 0; i < copies; ++i) {
    RETURN_IF_ERROR(CheckCancelled(ctx));
    ASSIGN_OR_RETURN(DevicePackedWeights w, MakeSyntheticWeights(kernel, shape, options_.seed));
    weights.push_back(std::move(w));
  }
  ASSIGN_OR_RETURN(DeviceBuffer x, MakeSyntheticActivations(shape, options_.seed));
  ASSIGN_OR_RETURN(DeviceBuffer y, DeviceBuffer::Allocate(int64_t{shape.m} * shape.n * 2));

  std::function<Status(int)> launch;
  if (IsPackedKernel(kernel)) {
    launch = [&](int i) {
      const DevicePackedWeights& w = weights[i % copies];
      return LaunchFusedGemv(*t.launch, w.pointers(), w.tensor_scale, x.as<const uint16_t>(),
                             y.as<uint16_t>(), &workspace, stream_);
    };
  } else {
    launch = [&](int i) {
      return cublas_->Run(weights[i % copies].qweight.as<const uint16_t>(), x.as<const uint16_t>(),
                          y.as<uint16_t>(), shape, stream_);
    };
  }
  RETURN_IF_ERROR(CheckCancelled(ctx));
  ASSIGN_OR_RETURN(std::vector<float> us,
                   TimeLaunches(launch, options_.repetitions, options_.warmup));

  std::vector<float> sorted = us;
  std::sort(sorted.begin(), sorted.end());
  t.median_us = Median(sorted);
  t.min_us = sorted.front();
  t.p10_us = Percentile(sorted, 0.10);
  t.p90_us = Percentile(sorted, 0.90);
  t.mean_us = std::accumulate(sorted.begin(), sorted.end(), 0.0) / sorted.size();
  double var = 0;
  for (float v : sorted) var += (v - t.mean_us) * (v - t.mean_us);
  t.stddev_us = std::sqrt(var / sorted.size());
  t.effective_gbps = static_cast<double>(t.bytes_moved) / (t.median_us * 1e3);

  if (options_.verify_rows > 0) {
    RETURN_IF_ERROR(CheckCancelled(ctx));
    std::vector<uint16_t> y_host(static_cast<size_t>(shape.m) * shape.n);
    RETURN_IF_ERROR(
        CudaStatus(cudaMemcpy(y_host.data(), y.get(), y_host.size() * 2, cudaMemcpyDeviceToHost),
                   "copying y to the host"));
    const std::vector<int64_t> rows = SampleRows(shape.n, options_.verify_rows);
    const std::vector<double> ref = SampledReference(kernel, shape, options_.seed, rows);
    std::vector<uint16_t> got(ref.size());
    for (int b = 0; b < shape.m; ++b) {
      for (size_t i = 0; i < rows.size(); ++i) {
        got[b * rows.size() + i] = y_host[b * shape.n + rows[i]];
      }
    }
    t.rows_checked = static_cast<int64_t>(rows.size());
    t.check = CompareGemv(ref, got);
  }
  return t;
}

std::string GemvTimingToJson(const GemvTiming& t, const GemvDeviceDescription& device,
                             double copy_gbps, double cublas_median_us) {
  std::string j = "{";
  auto field = [&](const std::string& name, const std::string& value) {
    if (j.size() > 1) j += ", ";
    j += JsonString(name) + ": " + value;
  };
  field("device", JsonString(device.name));
  field("device_description", JsonString(device.ToString()));
  field("compute_capability", JsonString(device.compute_capability));
  field("kernel", JsonString(GemvKernelName(t.kernel)));
  field("variant", JsonString(t.variant));
  field("n", std::to_string(t.shape.n));
  field("k", std::to_string(t.shape.k));
  field("batch", std::to_string(t.shape.m));
  field("repetitions", std::to_string(t.repetitions));
  field("median_us", JsonNumber(t.median_us));
  field("p10_us", JsonNumber(t.p10_us));
  field("p90_us", JsonNumber(t.p90_us));
  field("min_us", JsonNumber(t.min_us));
  field("mean_us", JsonNumber(t.mean_us));
  field("stddev_us", JsonNumber(t.stddev_us));
  field("bytes_moved", std::to_string(t.bytes_moved));
  field("effective_gbps", JsonNumber(t.effective_gbps));
  if (copy_gbps > 0) {
    field("copy_bw_gbps", JsonNumber(copy_gbps));
    field("pct_of_copy_bw", JsonNumber(100.0 * t.effective_gbps / copy_gbps));
  }
  if (cublas_median_us > 0) {
    field("cublas_fp16_median_us", JsonNumber(cublas_median_us));
    field("speedup_vs_cublas_fp16", JsonNumber(cublas_median_us / t.median_us));
  }
  field("rotation_copies", std::to_string(t.rotation_copies));
  if (t.launch) {
    field("launch", JsonString(t.launch->ToString()));
    field("launch_threads", std::to_string(t.launch->threads_per_block));
    field("launch_grid_x", std::to_string(t.launch->row_blocks));
    field("launch_grid_y", std::to_string(t.launch->k_splits));
    field("launch_smem_bytes", std::to_string(t.launch->smem_bytes));
    field("workspace_bytes", std::to_string(t.launch->workspace_bytes));
  }
  field("rows_checked", std::to_string(t.rows_checked));
  if (t.rows_checked > 0) {
    field("max_rel_err", JsonNumber(t.check.max_rel_err));
    field("check_ok", t.check.ok() ? "true" : "false");
  }
  return j + "}";
}

}  // namespace qlab::kernels
