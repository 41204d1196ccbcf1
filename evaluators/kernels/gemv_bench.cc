// GEMV benchmark harness (see gemv_bench.h).
#include "evaluators/kernels/gemv_bench.h"

#include <cuda_runtime.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdio>
#include <functional>
#include <numeric>
#include <vector>

#include "evaluators/kernels/gemv_bench_kernels.h"
#include "evaluators/kernels/gemv_synthetic.h"

namespace qlab::kernels {
namespace {

constexpr int64_t kMiB = 1 << 20;
// The hold kernel gives up after this long without the host's release (GemvSamples).
constexpr int64_t kHoldTimeoutNs = 100'000'000;
// Warm-up batches are sized to about this much GPU time each.
constexpr double kWarmupBatchUs = 10'000;

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

// Copies of `bytes` each that together exceed `rotate` bytes (so a launch never finds its data
// in L2), 1..64, limited to 70% of free device memory. RESOURCE_EXHAUSTED when one copy does
// not fit in 90% of it.
StatusOr<int> RotationCopies(int64_t bytes, int64_t rotate, const std::string& what) {
  size_t free_bytes = 0, total_bytes = 0;
  RETURN_IF_ERROR(CudaStatus(cudaMemGetInfo(&free_bytes, &total_bytes), "cudaMemGetInfo"));
  if (bytes > static_cast<int64_t>(static_cast<double>(free_bytes) * 0.9)) {
    return Status::ResourceExhausted(what + " of " + std::to_string(bytes) +
                                     " bytes do not fit in free device memory");
  }
  const int copies = static_cast<int>(std::clamp<int64_t>((rotate + bytes - 1) / bytes, 1, 64));
  return static_cast<int>(std::min<int64_t>(
      copies,
      std::max<int64_t>(1, static_cast<int64_t>(static_cast<double>(free_bytes) * 0.7) / bytes)));
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

double GemvTiming::pct_of_read_bw() const {
  return read.read_bw_gbps > 0 ? 100.0 * effective_gbps / read.read_bw_gbps : 0.0;
}

GemvBenchmark::~GemvBenchmark() {
  cublas_.reset();
  if (start_ != nullptr) cudaEventDestroy(start_);
  if (stop_ != nullptr) cudaEventDestroy(stop_);
  if (hold_host_ != nullptr) cudaFreeHost(hold_host_);
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
  if (options.repetitions < 1 || !(options.warmup_ms >= 0) || !(options.min_sample_us >= 0)) {
    return Status::InvalidArgument(
        "benchmark needs repetitions >= 1, warmup_ms >= 0 and min_sample_us >= 0");
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
  RETURN_IF_ERROR(CudaStatus(cudaEventCreate(&b->start_), "cudaEventCreate"));
  RETURN_IF_ERROR(CudaStatus(cudaEventCreate(&b->stop_), "cudaEventCreate"));
  void* hold = nullptr;
  RETURN_IF_ERROR(CudaStatus(
      cudaHostAlloc(&hold, 2 * sizeof(unsigned), cudaHostAllocMapped | cudaHostAllocPortable),
      "cudaHostAlloc of the hold flags"));
  b->hold_host_ = static_cast<unsigned*>(hold);
  void* hold_device = nullptr;
  RETURN_IF_ERROR(CudaStatus(cudaHostGetDevicePointer(&hold_device, hold, 0),
                             "cudaHostGetDevicePointer of the hold flags"));
  b->hold_device_ = static_cast<unsigned*>(hold_device);
  ASSIGN_OR_RETURN(b->read_blocks_, gemv::ReadStreamBlocks(device));
  ASSIGN_OR_RETURN(b->cublas_, CublasFp16Gemv::Create());
  return b;
}

StatusOr<double> GemvBenchmark::TimeBatch(const std::function<Status(int)>& launch, int count,
                                          int* next, bool* host_bound) {
  volatile unsigned* flags = hold_host_;
  flags[0] = 0;  // release
  flags[1] = 0;  // timed out
  std::atomic_thread_fence(std::memory_order_seq_cst);
  // The stream waits in the hold kernel while the host queues the sample, so the sample's events
  // see the launches back to back, whatever each launch costs the host.
  Status status = gemv::LaunchHold(hold_device_, hold_device_ + 1, kHoldTimeoutNs, stream_);
  const bool held = status.ok();
  if (status.ok()) status = CudaStatus(cudaEventRecord(start_, stream_), "cudaEventRecord");
  for (int i = 0; i < count && status.ok(); ++i) status = launch((*next)++);
  if (status.ok()) status = CudaStatus(cudaEventRecord(stop_, stream_), "cudaEventRecord");
  std::atomic_thread_fence(std::memory_order_seq_cst);
  flags[0] = 1;  // always released, so that the stream drains even after an error
  std::atomic_thread_fence(std::memory_order_seq_cst);
  const Status drained = CudaStatus(cudaStreamSynchronize(stream_), "timed launches");
  if (!status.ok()) return status;
  RETURN_IF_ERROR(drained);
  float ms = 0;
  RETURN_IF_ERROR(CudaStatus(cudaEventElapsedTime(&ms, start_, stop_), "cudaEventElapsedTime"));
  *host_bound = held && flags[1] != 0;
  return 1000.0 * ms;
}

StatusOr<GemvSamples> GemvBenchmark::TimeLaunches(const std::function<Status(int)>& launch,
                                                  int samples) {
  GemvSamples out;
  int next = 0;
  bool host_bound = false;
  // One launch outside the hold first: loading a kernel's module on its first launch (lazy
  // loading) or a library's first-call setup may wait for the device, which would wait for the
  // hold kernel, which waits for the host (until its timeout).
  RETURN_IF_ERROR(launch(next++));
  RETURN_IF_ERROR(CudaStatus(cudaStreamSynchronize(stream_), "first launch"));
  out.warmup_launches = 1;
  // Warm-up: batches of ~10 ms of GPU time (the first of one launch) until warmup_ms of GPU
  // time has passed; the last batch, the warmest, estimates one launch.
  double warm_us = 0, per_launch_us = 0;
  int batch = 1;
  do {
    ASSIGN_OR_RETURN(const double us, TimeBatch(launch, batch, &next, &host_bound));
    warm_us += us;
    out.warmup_launches += batch;
    per_launch_us = std::max(us / batch, 0.01);
    const double want_us = std::min(kWarmupBatchUs, 1000.0 * options_.warmup_ms - warm_us);
    batch = static_cast<int>(
        std::clamp(std::ceil(want_us / per_launch_us), 1.0, double{kMaxLaunchesPerSample}));
  } while (warm_us < 1000.0 * options_.warmup_ms);
  out.warmup_ms = warm_us / 1000.0;
  out.launches_per_sample = static_cast<int>(std::clamp(
      std::ceil(options_.min_sample_us / per_launch_us), 1.0, double{kMaxLaunchesPerSample}));

  out.per_launch_us.reserve(samples);
  for (int r = 0; r < samples; ++r) {
    ASSIGN_OR_RETURN(const double us,
                     TimeBatch(launch, out.launches_per_sample, &next, &host_bound));
    out.per_launch_us.push_back(static_cast<float>(us / out.launches_per_sample));
    if (host_bound) ++out.host_bound_samples;
  }
  return out;
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
  ASSIGN_OR_RETURN(GemvSamples samples, TimeLaunches(copy, 30));
  std::vector<float>& us = samples.per_launch_us;
  std::sort(us.begin(), us.end());
  copy_gbps_ = 2.0 * static_cast<double>(bytes) / (Median(us) * 1e3);
  return *copy_gbps_;
}

StatusOr<GemvReadTiming> GemvBenchmark::ReadBandwidth(int64_t bytes) {
  if (bytes <= 0) return Status::InvalidArgument("ReadBandwidth: bytes must be positive");
  GemvReadTiming r;
  r.bytes = (bytes + 15) / 16 * 16;
  const int64_t stride = (r.bytes + 255) / 256 * 256;  // each copy 256-byte aligned
  const int64_t rotate = options_.rotate_bytes > 0 ? options_.rotate_bytes : 2 * device_.l2_bytes;
  ASSIGN_OR_RETURN(r.rotation_copies, RotationCopies(stride, rotate, "read reference buffers"));
  ASSIGN_OR_RETURN(DeviceBuffer src, DeviceBuffer::Allocate(stride * r.rotation_copies));
  ASSIGN_OR_RETURN(DeviceBuffer sink, DeviceBuffer::Allocate(int64_t{read_blocks_} * 4));
  RETURN_IF_ERROR(CudaStatus(cudaMemsetAsync(src.get(), 1, src.bytes(), stream_), "cudaMemset"));
  RETURN_IF_ERROR(CudaStatus(cudaMemsetAsync(sink.get(), 0, sink.bytes(), stream_), "cudaMemset"));
  const int copies = r.rotation_copies;
  auto read = [&](int i) {
    return gemv::LaunchReadStream(src.as<const unsigned char>() + (i % copies) * stride, r.bytes,
                                  sink.as<unsigned>(), read_blocks_, stream_);
  };
  ASSIGN_OR_RETURN(GemvSamples samples, TimeLaunches(read, options_.repetitions));
  std::vector<float>& us = samples.per_launch_us;
  std::sort(us.begin(), us.end());
  r.median_us = Median(us);
  r.read_bw_gbps = static_cast<double>(r.bytes) / (r.median_us * 1e3);
  r.launches_per_sample = samples.launches_per_sample;
  return r;
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
  const int64_t y_bytes = int64_t{2} * shape.m * shape.n;

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

  // The read-only reference over the bytes this GEMV reads, before the weights take the memory.
  if (options_.read_reference) {
    RETURN_IF_ERROR(CheckCancelled(ctx));
    ASSIGN_OR_RETURN(t.read, ReadBandwidth(t.bytes_moved - y_bytes));
  }

  // Enough weight copies that a launch never finds its weights in L2.
  const int64_t weight_bytes = t.bytes_moved - int64_t{2} * shape.m * shape.k - y_bytes;
  const int64_t rotate = options_.rotate_bytes > 0 ? options_.rotate_bytes : 2 * device_.l2_bytes;
  ASSIGN_OR_RETURN(const int copies, RotationCopies(weight_bytes, rotate, "weights"));
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
  ASSIGN_OR_RETURN(GemvSamples samples, TimeLaunches(launch, options_.repetitions));
  t.launches_per_sample = samples.launches_per_sample;
  t.warmup_ms = samples.warmup_ms;
  t.warmup_launches = samples.warmup_launches;
  t.host_bound_samples = samples.host_bound_samples;

  std::vector<float> sorted = std::move(samples.per_launch_us);
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
    if (t.check.worst_index >= 0 && !rows.empty()) {
      t.worst_batch = static_cast<int>(t.check.worst_index / static_cast<int64_t>(rows.size()));
      t.worst_row = rows[t.check.worst_index % static_cast<int64_t>(rows.size())];
    }
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
  field("launches_per_sample", std::to_string(t.launches_per_sample));
  field("warmup_ms", JsonNumber(t.warmup_ms));
  field("warmup_launches", std::to_string(t.warmup_launches));
  if (t.host_bound_samples > 0) {
    field("host_bound_samples", std::to_string(t.host_bound_samples));
  }
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
  if (t.read.read_bw_gbps > 0) {
    field("read_bytes", std::to_string(t.read.bytes));
    field("read_median_us", JsonNumber(t.read.median_us));
    field("read_bw_gbps", JsonNumber(t.read.read_bw_gbps));
    field("pct_of_read_bw", JsonNumber(t.pct_of_read_bw()));
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
    field("launch_blocks_per_sm", std::to_string(t.launch->blocks_per_sm));
    field("launch_waves", JsonNumber(t.launch->waves));
    field("workspace_bytes", std::to_string(t.launch->workspace_bytes));
  }
  field("rows_checked", std::to_string(t.rows_checked));
  if (t.rows_checked > 0) {
    field("max_rel_err", JsonNumber(t.check.max_rel_err));
    field("check_ok", t.check.ok() ? "true" : "false");
    if (!t.check.ok()) {
      field("worst_batch", std::to_string(t.worst_batch));
      field("worst_row", std::to_string(t.worst_row));
      field("non_finite", std::to_string(t.check.non_finite));
    }
  }
  return j + "}";
}

}  // namespace qlab::kernels
