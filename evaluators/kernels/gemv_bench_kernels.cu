// Helper kernels of the benchmark harness (gemv_bench_kernels.h).
//
// ReadStreamKernel: src is a flat array of `count` 16-byte words (device memory, 16-byte
//   aligned); sink unsigned [gridDim.x]. Work split: a grid-stride loop over the words, a grid
//   of exactly the blocks that are resident at once (ReadStreamBlocks), each thread keeping four
//   independent 16-byte loads in flight (the GEMV keeps two or three per lane, plus prefetch).
//   Loads are gemv::LoadStreaming16, the GEMV's weight load (L1 bypassed, 256-byte L2 prefetch),
//   so the reference differs from the GEMV only in what is done with the bytes. No shared
//   memory. kReadStreamThreads = 256: 8 warps per block, enough blocks per SM for the full
//   2048 threads, i.e. the most bytes in flight the SM allows.
// HoldKernel: one thread, no memory but the two mapped host words.
#include <cuda_runtime.h>

#include <algorithm>
#include <string>

#include "evaluators/kernels/gemv_bench_kernels.h"
#include "evaluators/kernels/gemv_cuda.h"
#include "evaluators/kernels/gemv_lane.h"

namespace qlab::kernels::gemv {
namespace {

__global__ void __launch_bounds__(kReadStreamThreads)
    ReadStreamKernel(const uint32_t* src,  // device, [count][4] words, 16-byte aligned
                     int64_t count,        // 16-byte words to read
                     unsigned* sink) {     // device, [gridDim.x]; each block adds its sum
  const int64_t stride = int64_t{gridDim.x} * blockDim.x;
  int64_t i = int64_t{blockIdx.x} * blockDim.x + threadIdx.x;
  uint32_t sum = 0;
  for (; i + 3 * stride < count; i += 4 * stride) {
    const U32x4 a = LoadStreaming16(src + 4 * i);
    const U32x4 b = LoadStreaming16(src + 4 * (i + stride));
    const U32x4 c = LoadStreaming16(src + 4 * (i + 2 * stride));
    const U32x4 d = LoadStreaming16(src + 4 * (i + 3 * stride));
    sum += (a.x + a.y + a.z + a.w) + (b.x + b.y + b.z + b.w) + (c.x + c.y + c.z + c.w) +
           (d.x + d.y + d.z + d.w);
  }
  for (; i < count; i += stride) {
    const U32x4 a = LoadStreaming16(src + 4 * i);
    sum += a.x + a.y + a.z + a.w;
  }
  sum = __reduce_add_sync(0xFFFFFFFFu, sum);
  if ((threadIdx.x & 31) == 0) atomicAdd(&sink[blockIdx.x], sum);
}

__device__ __forceinline__ uint64_t GlobalTimerNs() {
  uint64_t t;
  asm volatile("mov.u64 %0, %%globaltimer;" : "=l"(t));
  return t;
}

__global__ void HoldKernel(const volatile unsigned* release,  // mapped host word, set by the host
                           volatile unsigned* timed_out,      // mapped host word, set here
                           int64_t timeout_ns) {              // ns before giving up
  const uint64_t start = GlobalTimerNs();
  while (*release == 0) {
    if (GlobalTimerNs() - start > static_cast<uint64_t>(timeout_ns)) {
      *timed_out = 1;
      __threadfence_system();
      return;
    }
    __nanosleep(1000);
  }
}

}  // namespace

StatusOr<int> ReadStreamBlocks(int device) {
  int sms = 0, per_sm = 0;
  RETURN_IF_ERROR(
      CudaStatus(cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, device), "SM count"));
  RETURN_IF_ERROR(CudaStatus(cudaOccupancyMaxActiveBlocksPerMultiprocessor(
                                 &per_sm, ReadStreamKernel, kReadStreamThreads, 0),
                             "read kernel occupancy"));
  return std::max(1, sms * per_sm);
}

Status LaunchReadStream(const void* src, int64_t bytes, unsigned* sink, int blocks,
                        cudaStream_t stream) {
  if (src == nullptr || sink == nullptr || bytes <= 0 || bytes % 16 != 0 || blocks < 1 ||
      (reinterpret_cast<uintptr_t>(src) & 15u) != 0) {
    return Status::InvalidArgument("read kernel: " + std::to_string(bytes) +
                                   " bytes: needs a 16-byte aligned source, a positive multiple "
                                   "of 16 bytes, a sink and >= 1 block");
  }
  ReadStreamKernel<<<static_cast<unsigned>(blocks), kReadStreamThreads, 0, stream>>>(
      static_cast<const uint32_t*>(src), bytes / 16, sink);
  return CudaStatus(cudaGetLastError(), "read kernel launch");
}

Status LaunchHold(const unsigned* release, unsigned* timed_out, int64_t timeout_ns,
                  cudaStream_t stream) {
  HoldKernel<<<1, 1, 0, stream>>>(release, timed_out, timeout_ns);
  return CudaStatus(cudaGetLastError(), "hold kernel launch");
}

}  // namespace qlab::kernels::gemv
