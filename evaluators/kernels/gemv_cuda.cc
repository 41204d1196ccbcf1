// Host side of the CUDA GEMV kernels: detection, buffers, uploads, synthetic fills, planning,
// launch validation and the cuBLAS baseline (see gemv_cuda.h).
#include "evaluators/kernels/gemv_cuda.h"

#include <cublas_v2.h>
#include <cuda_runtime.h>

#include <algorithm>
#include <string>
#include <utility>

#include "common/int_math.h"
#include "evaluators/kernels/gemv_synthetic.h"

namespace qlab::kernels {
namespace {

bool Aligned16(const void* p) { return (reinterpret_cast<uintptr_t>(p) & 15u) == 0; }

template <class T>
StatusOr<DeviceBuffer> Upload(const std::vector<T>& v) {
  return DeviceBuffer::FromHost(v.data(), static_cast<int64_t>(v.size() * sizeof(T)));
}

Status Fill(gemv::SynthFill what, const DeviceBuffer& buffer, int64_t count, uint64_t seed) {
  return gemv::FillSynthetic(what, buffer.get(), count, seed, nullptr);
}

}  // namespace

bool CudaDeviceAvailable(std::string* why_not) {
  int count = 0;
  const cudaError_t e = cudaGetDeviceCount(&count);
  std::string reason;
  if (e == cudaErrorInsufficientDriver || e == cudaErrorNoDevice) {
    reason = std::string("no GPU: cudaGetDeviceCount returned ") + cudaGetErrorName(e) + " (" +
             std::to_string(static_cast<int>(e)) + ")";
  } else if (e != cudaSuccess) {
    reason = std::string("CUDA unusable: cudaGetDeviceCount returned ") + cudaGetErrorName(e) +
             " (" + std::to_string(static_cast<int>(e)) + "): " + cudaGetErrorString(e);
  } else if (count == 0) {
    reason = "no GPU: cudaGetDeviceCount found 0 devices";
  }
  if (e != cudaSuccess) cudaGetLastError();  // clear the sticky-free error state
  if (why_not != nullptr) *why_not = reason;
  return reason.empty();
}

Status CudaStatus(cudaError_t error, const std::string& what) {
  if (error == cudaSuccess) return Status::Ok();
  return Status::Internal(what + ": " + cudaGetErrorName(error) + ": " + cudaGetErrorString(error));
}

// ---- DeviceBuffer ------------------------------------------------------------------------------

DeviceBuffer::~DeviceBuffer() {
  if (ptr_ != nullptr) cudaFree(ptr_);
}

DeviceBuffer::DeviceBuffer(DeviceBuffer&& other) noexcept
    : ptr_(std::exchange(other.ptr_, nullptr)), bytes_(std::exchange(other.bytes_, 0)) {}

DeviceBuffer& DeviceBuffer::operator=(DeviceBuffer&& other) noexcept {
  if (this != &other) {
    if (ptr_ != nullptr) cudaFree(ptr_);
    ptr_ = std::exchange(other.ptr_, nullptr);
    bytes_ = std::exchange(other.bytes_, 0);
  }
  return *this;
}

StatusOr<DeviceBuffer> DeviceBuffer::Allocate(int64_t bytes) {
  DeviceBuffer b;
  if (bytes <= 0) return b;
  const cudaError_t e = cudaMalloc(&b.ptr_, static_cast<size_t>(bytes));
  if (e == cudaErrorMemoryAllocation) {
    cudaGetLastError();
    return Status::ResourceExhausted("cudaMalloc of " + std::to_string(bytes) +
                                     " bytes: out of device memory");
  }
  RETURN_IF_ERROR(CudaStatus(e, "cudaMalloc of " + std::to_string(bytes) + " bytes"));
  b.bytes_ = bytes;
  return b;
}

StatusOr<DeviceBuffer> DeviceBuffer::FromHost(const void* data, int64_t bytes) {
  ASSIGN_OR_RETURN(DeviceBuffer b, Allocate(bytes));
  if (bytes > 0) {
    RETURN_IF_ERROR(
        CudaStatus(cudaMemcpy(b.ptr_, data, static_cast<size_t>(bytes), cudaMemcpyHostToDevice),
                   "cudaMemcpy to device"));
  }
  return b;
}

// ---- Packed weights ---------------------------------------------------------------------------

gemv::PackedPointers DevicePackedWeights::pointers() const {
  gemv::PackedPointers p;
  p.qweight = qweight.as<const uint32_t>();
  p.scales = scales.as<const uint16_t>();
  p.aux = aux.as<const uint32_t>();
  p.block_scales = block_scales.as<const uint8_t>();
  return p;
}

int64_t DevicePackedWeights::bytes() const {
  return qweight.bytes() + scales.bytes() + aux.bytes() + block_scales.bytes();
}

StatusOr<DevicePackedWeights> UploadPacked(const datatypes::PackedRazerW4& w) {
  RETURN_IF_ERROR(ValidateGemvShape(GemvKernel::kRazerW4, {w.n, w.k, 1}));
  DevicePackedWeights d;
  d.kernel = GemvKernel::kRazerW4;
  d.n = w.n;
  d.k = w.k;
  ASSIGN_OR_RETURN(d.qweight, Upload(w.qweight));
  ASSIGN_OR_RETURN(d.scales, Upload(w.scales_fp16));
  ASSIGN_OR_RETURN(d.aux, Upload(w.selectors));
  return d;
}

StatusOr<DevicePackedWeights> UploadPacked(const datatypes::PackedInt4Asym& w) {
  RETURN_IF_ERROR(ValidateGemvShape(GemvKernel::kInt4Asym, {w.n, w.k, 1}));
  DevicePackedWeights d;
  d.kernel = GemvKernel::kInt4Asym;
  d.n = w.n;
  d.k = w.k;
  ASSIGN_OR_RETURN(d.qweight, Upload(w.qweight));
  ASSIGN_OR_RETURN(d.scales, Upload(w.scales_fp16));
  ASSIGN_OR_RETURN(d.aux, Upload(w.zeros));
  return d;
}

StatusOr<DevicePackedWeights> UploadPacked(const datatypes::PackedNvfp4& w) {
  RETURN_IF_ERROR(ValidateGemvShape(GemvKernel::kNvfp4, {w.n, w.k, 1}));
  DevicePackedWeights d;
  d.kernel = GemvKernel::kNvfp4;
  d.n = w.n;
  d.k = w.k;
  d.tensor_scale = w.tensor_scale;
  ASSIGN_OR_RETURN(d.qweight, Upload(w.qweight));
  ASSIGN_OR_RETURN(d.block_scales, Upload(w.block_scales));
  return d;
}

StatusOr<DevicePackedWeights> UploadFp16Weights(const uint16_t* w, int64_t n, int64_t k) {
  RETURN_IF_ERROR(ValidateGemvShape(GemvKernel::kFp16Cublas, {n, k, 1}));
  DevicePackedWeights d;
  d.kernel = GemvKernel::kFp16Cublas;
  d.n = n;
  d.k = k;
  ASSIGN_OR_RETURN(d.qweight, DeviceBuffer::FromHost(w, n * k * 2));
  return d;
}

StatusOr<DevicePackedWeights> MakeSyntheticWeights(GemvKernel kernel, const GemvShape& shape,
                                                   uint64_t seed) {
  RETURN_IF_ERROR(ValidateGemvShape(kernel, shape));
  DevicePackedWeights d;
  d.kernel = kernel;
  d.n = shape.n;
  d.k = shape.k;
  const int64_t groups = shape.k / kGemvGroupK;
  switch (kernel) {
    case GemvKernel::kFp16Cublas: {
      ASSIGN_OR_RETURN(d.qweight, DeviceBuffer::Allocate(shape.n * shape.k * 2));
      RETURN_IF_ERROR(Fill(gemv::SynthFill::kFp16Weights, d.qweight, shape.n * shape.k, seed));
      break;
    }
    case GemvKernel::kRazerW4:
    case GemvKernel::kInt4Asym: {
      const int64_t aux_words = shape.n * CeilDiv(groups, kernel == GemvKernel::kRazerW4 ? 16 : 8);
      ASSIGN_OR_RETURN(d.qweight, DeviceBuffer::Allocate(shape.n * shape.k / 2));
      ASSIGN_OR_RETURN(d.scales, DeviceBuffer::Allocate(shape.n * groups * 2));
      ASSIGN_OR_RETURN(d.aux, DeviceBuffer::Allocate(aux_words * 4));
      RETURN_IF_ERROR(Fill(gemv::SynthFill::kQweight, d.qweight, shape.n * shape.k / 8, seed));
      RETURN_IF_ERROR(Fill(gemv::SynthFill::kScales, d.scales, shape.n * groups, seed));
      RETURN_IF_ERROR(Fill(gemv::SynthFill::kAux, d.aux, aux_words, seed));
      break;
    }
    case GemvKernel::kNvfp4: {
      d.tensor_scale = kSynthTensorScale;
      ASSIGN_OR_RETURN(d.qweight, DeviceBuffer::Allocate(shape.n * shape.k / 2));
      ASSIGN_OR_RETURN(d.block_scales, DeviceBuffer::Allocate(shape.n * shape.k / 16));
      RETURN_IF_ERROR(Fill(gemv::SynthFill::kQweight, d.qweight, shape.n * shape.k / 8, seed));
      RETURN_IF_ERROR(
          Fill(gemv::SynthFill::kBlockScales, d.block_scales, shape.n * shape.k / 16, seed));
      break;
    }
  }
  RETURN_IF_ERROR(CudaStatus(cudaDeviceSynchronize(), "synthetic weight fill"));
  return d;
}

StatusOr<DeviceBuffer> MakeSyntheticActivations(const GemvShape& shape, uint64_t seed) {
  ASSIGN_OR_RETURN(DeviceBuffer x, DeviceBuffer::Allocate(int64_t{shape.m} * shape.k * 2));
  RETURN_IF_ERROR(Fill(gemv::SynthFill::kActivations, x, int64_t{shape.m} * shape.k, seed));
  RETURN_IF_ERROR(CudaStatus(cudaDeviceSynchronize(), "synthetic activation fill"));
  return x;
}

// ---- Planning and launch ----------------------------------------------------------------------

StatusOr<GemvDeviceLimits> QueryGemvDeviceLimits(GemvKernel kernel, int device) {
  GemvDeviceLimits limits;
  int value = 0;
  RETURN_IF_ERROR(CudaStatus(cudaDeviceGetAttribute(&value, cudaDevAttrMultiProcessorCount, device),
                             "SM count"));
  limits.num_sms = value;
  RETURN_IF_ERROR(CudaStatus(
      cudaDeviceGetAttribute(&value, cudaDevAttrMaxSharedMemoryPerMultiprocessor, device),
      "shared memory per SM"));
  limits.smem_per_sm_bytes = value;
  RETURN_IF_ERROR(
      CudaStatus(cudaDeviceGetAttribute(&value, cudaDevAttrMaxSharedMemoryPerBlockOptin, device),
                 "shared memory per block"));
  limits.smem_per_block_max_bytes = value;
  if (cudaDeviceGetAttribute(&value, cudaDevAttrReservedSharedMemoryPerBlock, device) ==
      cudaSuccess) {
    limits.smem_reserved_per_block_bytes = value;
  }
  cudaGetLastError();  // the attribute is optional; the default (1 KB) is then kept
  StatusOr<int> (*occupancy)(int smem_bytes) = nullptr;
  switch (kernel) {
    case GemvKernel::kRazerW4:
      occupancy = gemv::RazerW4GemvBlocksPerSm;
      break;
    case GemvKernel::kInt4Asym:
      occupancy = gemv::Int4AsymGemvBlocksPerSm;
      break;
    case GemvKernel::kNvfp4:
      occupancy = gemv::Nvfp4GemvBlocksPerSm;
      break;
    case GemvKernel::kFp16Cublas:
      return Status::InvalidArgument("QueryGemvDeviceLimits: not a fused kernel");
  }
  ASSIGN_OR_RETURN(const int blocks, occupancy(0));
  limits.blocks_per_sm = std::max(1, blocks);
  // The kernel the launcher will start, at the plan's dynamic shared memory.
  limits.blocks_per_sm_for_smem = occupancy;
  return limits;
}

StatusOr<GemvLaunchConfig> PlanFusedGemvForDevice(GemvKernel kernel, const GemvShape& shape,
                                                  int forced_splits) {
  int device = 0;
  RETURN_IF_ERROR(CudaStatus(cudaGetDevice(&device), "cudaGetDevice"));
  ASSIGN_OR_RETURN(GemvDeviceLimits limits, QueryGemvDeviceLimits(kernel, device));
  return PlanFusedGemv(kernel, shape, limits, forced_splits);
}

Status GemvWorkspace::Reserve(int64_t bytes) {
  if (bytes <= buffer_.bytes()) return Status::Ok();
  buffer_ = DeviceBuffer();
  ledger_ = SplitKCounterLedger();
  ASSIGN_OR_RETURN(buffer_, DeviceBuffer::Allocate(bytes));
  RETURN_IF_ERROR(CudaStatus(cudaMemset(buffer_.get(), 0, static_cast<size_t>(bytes)),
                             "zeroing the GEMV workspace"));
  // Launches may come on non-blocking streams, which do not wait for the legacy stream's memset.
  RETURN_IF_ERROR(CudaStatus(cudaDeviceSynchronize(), "zeroing the GEMV workspace"));
  ledger_.Zeroed(bytes);
  return Status::Ok();
}

Status GemvWorkspace::BeforeLaunch(const GemvLaunchConfig& config, cudaStream_t stream) {
  const int64_t bytes = ledger_.CountersToZero(config);
  if (bytes == 0) return Status::Ok();
  RETURN_IF_ERROR(CudaStatus(cudaMemsetAsync(buffer_.get(), 0, static_cast<size_t>(bytes), stream),
                             "zeroing the split-K counters"));
  ledger_.Zeroed(bytes);
  return Status::Ok();
}

void GemvWorkspace::AfterLaunch(const GemvLaunchConfig& config, const Status& launch,
                                cudaStream_t stream) {
  if (launch.ok()) {
    ledger_.Launched(config);
    return;
  }
  // Blocks of a launch that failed may have counted themselves in; zero the counters now, on the
  // same stream, so the next launch starts clean. A sticky error makes this fail as well: then
  // the ledger still says unknown and the next BeforeLaunch retries.
  ledger_.Aborted();
  if (config.counters_bytes > 0 && buffer_.bytes() >= config.counters_bytes &&
      cudaMemsetAsync(buffer_.get(), 0, static_cast<size_t>(config.counters_bytes), stream) ==
          cudaSuccess) {
    ledger_.Zeroed(config.counters_bytes);
  }
  cudaGetLastError();  // the launch's error is reported by the caller; clear what is not sticky
}

Status LaunchFusedGemv(const GemvLaunchConfig& config, const gemv::PackedPointers& weights,
                       float tensor_scale, const uint16_t* x, uint16_t* y, GemvWorkspace* workspace,
                       cudaStream_t stream) {
  const GemvShape& s = config.shape;
  const std::string where =
      std::string(GemvKernelName(config.kernel)) + " GEMV (" + GemvShapeText(s) + ")";
  RETURN_IF_ERROR(ValidateGemvShape(config.kernel, s));
  if (!IsPackedKernel(config.kernel)) {
    return Status::InvalidArgument(where + ": fp16_cublas is not a fused kernel");
  }
  // The config must be exactly what the planner produces for this shape.
  const int groups = static_cast<int>(s.k / kGemvGroupK);
  const bool split = config.k_splits > 1;
  if (config.threads_per_block != gemv::kThreadsPerBlock ||
      config.row_blocks != CeilDiv(s.n, gemv::kRowsPerBlock) || config.groups != groups ||
      config.k_splits < 1 || config.k_splits > groups ||
      config.slice_groups_max != gemv::MaxSliceGroups(groups, config.k_splits) ||
      config.smem_bytes != s.m * gemv::SmemRowChunks(config.slice_groups_max) * 16 ||
      config.counters_bytes != (split ? config.row_blocks * int64_t{sizeof(unsigned)} : 0) ||
      (split && config.partials_offset < config.counters_bytes)) {
    return Status::InvalidArgument(where + ": launch config (" + config.ToString() +
                                   ") was not planned for this shape");
  }
  if (x == nullptr || y == nullptr || weights.qweight == nullptr) {
    return Status::InvalidArgument(where + ": null x, y or qweight");
  }
  if (config.kernel == GemvKernel::kNvfp4 ? weights.block_scales == nullptr
                                          : (weights.scales == nullptr || weights.aux == nullptr)) {
    return Status::InvalidArgument(where + ": null scales, selectors/zeros or block scales");
  }
  if (!Aligned16(x) || !Aligned16(weights.qweight)) {
    return Status::InvalidArgument(where + ": x and qweight must be 16-byte aligned");
  }
  gemv::FusedGemvArgs args;
  args.w = weights;
  args.out_scale = config.kernel == GemvKernel::kNvfp4 ? tensor_scale * 128.0f : 1.0f;
  args.x = x;
  args.y = y;
  args.n = s.n;
  args.k = static_cast<int>(s.k);
  args.m = s.m;
  args.groups = groups;
  args.k_splits = config.k_splits;
  args.slice_groups_max = config.slice_groups_max;
  if (config.k_splits > 1) {
    if (workspace == nullptr || workspace->bytes() < config.workspace_bytes) {
      return Status::InvalidArgument(where + ": split-K needs a workspace of " +
                                     std::to_string(config.workspace_bytes) + " bytes");
    }
    auto* base = static_cast<unsigned char*>(workspace->data());
    args.counters = reinterpret_cast<unsigned*>(base);
    args.partials = reinterpret_cast<float*>(base + config.partials_offset);
    RETURN_IF_ERROR(workspace->BeforeLaunch(config, stream));
  }
  Status launched = Status::InvalidArgument(where + ": not a fused kernel");
  switch (config.kernel) {
    case GemvKernel::kRazerW4:
      launched = gemv::LaunchRazerW4Gemv(args, config, stream);
      break;
    case GemvKernel::kInt4Asym:
      launched = gemv::LaunchInt4AsymGemv(args, config, stream);
      break;
    case GemvKernel::kNvfp4:
      launched = gemv::LaunchNvfp4Gemv(args, config, stream);
      break;
    case GemvKernel::kFp16Cublas:
      break;
  }
  if (config.k_splits > 1) workspace->AfterLaunch(config, launched, stream);
  return launched;
}

// ---- cuBLAS baseline --------------------------------------------------------------------------

CublasFp16Gemv::~CublasFp16Gemv() {
  if (handle_ != nullptr) cublasDestroy(static_cast<cublasHandle_t>(handle_));
}

StatusOr<std::unique_ptr<CublasFp16Gemv>> CublasFp16Gemv::Create() {
  cublasHandle_t handle = nullptr;
  const cublasStatus_t st = cublasCreate(&handle);
  if (st != CUBLAS_STATUS_SUCCESS) {
    return Status::Internal(std::string("cublasCreate: ") + cublasGetStatusString(st));
  }
  std::unique_ptr<CublasFp16Gemv> g(new CublasFp16Gemv());
  g->handle_ = handle;
  return g;
}

Status CublasFp16Gemv::Run(const uint16_t* w, const uint16_t* x, uint16_t* y,
                           const GemvShape& shape, cudaStream_t stream) {
  RETURN_IF_ERROR(ValidateGemvShape(GemvKernel::kFp16Cublas, shape));
  if (w == nullptr || x == nullptr || y == nullptr) {
    return Status::InvalidArgument("fp16_cublas GEMV (" + GemvShapeText(shape) + "): null pointer");
  }
  auto handle = static_cast<cublasHandle_t>(handle_);
  cublasStatus_t st = cublasSetStream(handle, stream);
  if (st == CUBLAS_STATUS_SUCCESS) {
    // Column-major view: Y^T [n, m] = W [n, k] * X^T [k, m]. W row-major [n, k] is column-major
    // [k, n] with ld k, used transposed; X row-major [m, k] is column-major [k, m] with ld k.
    const float alpha = 1.0f, beta = 0.0f;
    st = cublasGemmEx(handle, CUBLAS_OP_T, CUBLAS_OP_N, static_cast<int>(shape.n), shape.m,
                      static_cast<int>(shape.k), &alpha, w, CUDA_R_16F, static_cast<int>(shape.k),
                      x, CUDA_R_16F, static_cast<int>(shape.k), &beta, y, CUDA_R_16F,
                      static_cast<int>(shape.n), CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT);
  }
  if (st != CUBLAS_STATUS_SUCCESS) {
    return Status::Internal("cublasGemmEx (" + GemvShapeText(shape) +
                            "): " + cublasGetStatusString(st));
  }
  return CudaStatus(cudaGetLastError(), "cublasGemmEx launch");
}

}  // namespace qlab::kernels
