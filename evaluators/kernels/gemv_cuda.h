// Host API of the CUDA GEMV kernels: GPU detection, device buffers, packed weights on the device
// (uploaded from the datatype library's structs or filled with synthetic data), launch planning
// with the compiled kernels' real occupancy, the fused launchers, and the cuBLAS FP16 baseline.
// Built only with CUDA (QLAB_WITH_CUDA); the kernel design is in gemv_kernel.cuh.
//
// Thread safety: free functions are thread-safe; objects are not (use one per thread). Every
// call works on the current CUDA device unless it takes a device index.
#pragma once

#include <cuda_runtime_api.h>

#include <cstdint>
#include <memory>
#include <string>

#include "common/status.h"
#include "evaluators/datatypes/packing.h"
#include "evaluators/kernels/gemv_format.h"
#include "evaluators/kernels/gemv_lane.h"
#include "evaluators/kernels/gemv_plan.h"

namespace qlab::kernels {

// True when a CUDA device can be used. Otherwise false, and *why_not (if given) says why, e.g.
// "no GPU: cudaGetDeviceCount returned cudaErrorNoDevice (100)". Error codes 35 (insufficient
// driver) and 100 (no device) mean the machine has no usable GPU.
bool CudaDeviceAvailable(std::string* why_not);

// "INTERNAL: <what>: <cudaGetErrorString>" for a failed runtime call, OK for cudaSuccess.
Status CudaStatus(cudaError_t error, const std::string& what);

// A cudaMalloc'ed block of device memory; move-only, freed on destruction.
class DeviceBuffer {
 public:
  DeviceBuffer() = default;
  ~DeviceBuffer();
  DeviceBuffer(DeviceBuffer&& other) noexcept;
  DeviceBuffer& operator=(DeviceBuffer&& other) noexcept;
  DeviceBuffer(const DeviceBuffer&) = delete;
  DeviceBuffer& operator=(const DeviceBuffer&) = delete;

  // RESOURCE_EXHAUSTED when cudaMalloc fails for lack of memory, INTERNAL for other errors.
  // A zero-byte buffer holds nullptr.
  static StatusOr<DeviceBuffer> Allocate(int64_t bytes);
  // Allocates and copies `bytes` from host memory (synchronous).
  static StatusOr<DeviceBuffer> FromHost(const void* data, int64_t bytes);

  void* get() const { return ptr_; }
  template <class T>
  T* as() const {
    return static_cast<T*>(ptr_);
  }
  int64_t bytes() const { return bytes_; }

 private:
  void* ptr_ = nullptr;
  int64_t bytes_ = 0;
};

// One packed weight matrix in device memory (docs/packed-layouts.md), or FP16 weights for the
// cuBLAS baseline (kernel == kFp16Cublas: `qweight` holds FP16 bits [n, k]).
struct DevicePackedWeights {
  GemvKernel kernel = GemvKernel::kRazerW4;
  int64_t n = 0, k = 0;
  DeviceBuffer qweight;       // uint32 [n, k/8] (FP16 [n, k] for the baseline)
  DeviceBuffer scales;        // razer/int4: fp16 [n, k/128]
  DeviceBuffer aux;           // razer: selectors [n, ceil(G/16)]; int4: zeros [n, ceil(G/8)]
  DeviceBuffer block_scales;  // nvfp4: E4M3 [n, k/16]
  float tensor_scale = 1.0f;  // nvfp4

  gemv::PackedPointers pointers() const;
  // Bytes of device memory held.
  int64_t bytes() const;
};

// Uploads a matrix packed by the datatype library (synchronous).
StatusOr<DevicePackedWeights> UploadPacked(const datatypes::PackedRazerW4& w);
StatusOr<DevicePackedWeights> UploadPacked(const datatypes::PackedInt4Asym& w);
StatusOr<DevicePackedWeights> UploadPacked(const datatypes::PackedNvfp4& w);
// FP16 weights (bits, [n, k]) for the baseline.
StatusOr<DevicePackedWeights> UploadFp16Weights(const uint16_t* w, int64_t n, int64_t k);

// Allocates W of `kernel` for shape (n, k) and fills it on the device with the synthetic values of
// gemv_synthetic.h for `seed` (any kernel, including the FP16 baseline). Synchronous.
StatusOr<DevicePackedWeights> MakeSyntheticWeights(GemvKernel kernel, const GemvShape& shape,
                                                   uint64_t seed);
// Allocates FP16 x [m, k] filled with SynthActivationBits(seed, .). Synchronous.
StatusOr<DeviceBuffer> MakeSyntheticActivations(const GemvShape& shape, uint64_t seed);

// The planner's limits for the fused kernel of `kernel` on `device`: SMs and shared memory from
// the device attributes, and the compiled kernel's occupancy from the runtime, both without
// dynamic shared memory (blocks_per_sm) and, through blocks_per_sm_for_smem, for the shared
// memory of each plan the planner considers (cudaOccupancyMaxActiveBlocksPerMultiprocessor of
// FusedGemvKernel<format> at kThreadsPerBlock; evaluated on the then-current device, so plan
// with `device` current, as PlanFusedGemvForDevice does).
StatusOr<GemvDeviceLimits> QueryGemvDeviceLimits(GemvKernel kernel, int device);
// PlanFusedGemv with QueryGemvDeviceLimits of the current device.
StatusOr<GemvLaunchConfig> PlanFusedGemvForDevice(GemvKernel kernel, const GemvShape& shape,
                                                  int forced_splits = 0);

// Split-K scratch memory: arrival counters and FP32 partial sums. A launch that runs to the end
// leaves its counters zero; the workspace's ledger (gemv_plan.h) records what is known to be
// zero, and LaunchFusedGemv zeroes the counters on the launch's stream whenever that is not
// known: after a launch that failed, after MarkCountersUnknown, or when an earlier plan's
// partials cover this plan's counters. One launch at a time per workspace.
class GemvWorkspace {
 public:
  // Grows to at least `bytes` (never shrinks), zero-filled; synchronous (the device is idle
  // when it returns), so any stream may launch with it next.
  Status Reserve(int64_t bytes);
  // For a caller that abandons launches it made with this workspace (e.g. work on a stream
  // discarded after an error): the next launch zeroes the counters first.
  void MarkCountersUnknown() { ledger_.Aborted(); }
  // Called by LaunchFusedGemv around a split-K launch of `config` on `stream`. BeforeLaunch
  // zeroes config's counters (cudaMemsetAsync on `stream`) unless they are known to be zero;
  // INTERNAL if that fails. AfterLaunch records the launch, or, when `launch` failed, zeroes the
  // counters on `stream` at once (if even that fails, the next BeforeLaunch tries again).
  Status BeforeLaunch(const GemvLaunchConfig& config, cudaStream_t stream);
  void AfterLaunch(const GemvLaunchConfig& config, const Status& launch, cudaStream_t stream);
  void* data() const { return buffer_.get(); }
  int64_t bytes() const { return buffer_.bytes(); }
  const SplitKCounterLedger& ledger() const { return ledger_; }

 private:
  DeviceBuffer buffer_;
  SplitKCounterLedger ledger_;
};

// y = x * W^T with the fused kernel config.kernel. x: FP16 bits [m, k] (16-byte aligned), y: FP16
// bits [m, n], W as in `weights` (pointers from DevicePackedWeights::pointers()); tensor_scale is
// used by NVFP4 only. Asynchronous on `stream`; checks cudaGetLastError after the launch.
// Split-K: zeroes the workspace's counters on `stream` first when they are not known to be zero,
// and again right after a failed launch (see GemvWorkspace).
// INVALID_ARGUMENT (naming m/n/k) when config is not a plan for its own shape, a required pointer
// is null or misaligned, or the workspace is missing or smaller than config.workspace_bytes.
// INTERNAL on a launch error (or a failure to zero the counters).
Status LaunchFusedGemv(const GemvLaunchConfig& config, const gemv::PackedPointers& weights,
                       float tensor_scale, const uint16_t* x, uint16_t* y, GemvWorkspace* workspace,
                       cudaStream_t stream);

// The baseline: y = x * W^T with FP16 W [n, k] through cublasGemmEx (FP16 in/out, FP32 compute,
// batch as the GEMM's n dimension).
class CublasFp16Gemv {
 public:
  ~CublasFp16Gemv();
  // INTERNAL when the cuBLAS handle cannot be created (message has the cuBLAS status).
  static StatusOr<std::unique_ptr<CublasFp16Gemv>> Create();
  // INVALID_ARGUMENT for a bad shape or null pointer; INTERNAL for a cuBLAS error.
  Status Run(const uint16_t* w, const uint16_t* x, uint16_t* y, const GemvShape& shape,
             cudaStream_t stream);

 private:
  CublasFp16Gemv() = default;
  void* handle_ = nullptr;  // cublasHandle_t
};

// Per-format entry points defined in razer_w4_gemv.cu, int4_asym_gemv.cu and nvfp4_gemv.cu.
namespace gemv {
Status LaunchRazerW4Gemv(const FusedGemvArgs& args, const GemvLaunchConfig& config,
                         cudaStream_t stream);
Status LaunchInt4AsymGemv(const FusedGemvArgs& args, const GemvLaunchConfig& config,
                          cudaStream_t stream);
Status LaunchNvfp4Gemv(const FusedGemvArgs& args, const GemvLaunchConfig& config,
                       cudaStream_t stream);
StatusOr<int> RazerW4GemvBlocksPerSm(int smem_bytes);
StatusOr<int> Int4AsymGemvBlocksPerSm(int smem_bytes);
StatusOr<int> Nvfp4GemvBlocksPerSm(int smem_bytes);

// Device fills of gemv_synthetic.h's generators: dst[i] = generator(seed, i) for i < count.
enum class SynthFill { kQweight, kScales, kAux, kBlockScales, kActivations, kFp16Weights };
Status FillSynthetic(SynthFill what, void* dst, int64_t count, uint64_t seed, cudaStream_t stream);
}  // namespace gemv

}  // namespace qlab::kernels
