// Device fills of the synthetic GEMV operands (gemv_synthetic.h): the same hash as the host, so
// the benchmark can create hundreds of megabytes of weights in milliseconds and still verify
// sampled rows against host-built copies.
//
// Layout: dst is a flat array of `count` elements of the tensor's element type (uint32 words,
// fp16 bits, or E4M3 bytes); element i = generator(seed, i). Work split: a grid-stride loop of
// 256-thread blocks, 4 blocks per SM worth of grid; memory-bound and run once per buffer.
#include <algorithm>

#include "evaluators/kernels/gemv_cuda.h"
#include "evaluators/kernels/gemv_synthetic.h"

namespace qlab::kernels::gemv {
namespace {

constexpr int kFillThreads = 256;

template <SynthFill kWhat, class T>
__global__ void __launch_bounds__(kFillThreads) FillKernel(T* dst,  // device, [count] elements
                                                           int64_t count,    // elements
                                                           uint64_t seed) {  // SynthHash seed
  const int64_t stride = int64_t{gridDim.x} * blockDim.x;
  for (int64_t i = int64_t{blockIdx.x} * blockDim.x + threadIdx.x; i < count; i += stride) {
    const uint64_t index = static_cast<uint64_t>(i);
    if constexpr (kWhat == SynthFill::kQweight) {
      dst[i] = SynthQweightWord(seed, index);
    } else if constexpr (kWhat == SynthFill::kScales) {
      dst[i] = SynthScaleBits(seed, index);
    } else if constexpr (kWhat == SynthFill::kAux) {
      dst[i] = SynthAuxWord(seed, index);
    } else if constexpr (kWhat == SynthFill::kBlockScales) {
      dst[i] = SynthBlockScale(seed, index);
    } else if constexpr (kWhat == SynthFill::kActivations) {
      dst[i] = SynthActivationBits(seed, index);
    } else {
      dst[i] = SynthFp16WeightBits(seed, index);
    }
  }
}

template <SynthFill kWhat, class T>
Status Launch(void* dst, int64_t count, uint64_t seed, cudaStream_t stream) {
  const int64_t blocks = std::clamp<int64_t>((count + kFillThreads - 1) / kFillThreads, 1, 4096);
  FillKernel<kWhat, T><<<static_cast<unsigned>(blocks), kFillThreads, 0, stream>>>(
      static_cast<T*>(dst), count, seed);
  return CudaStatus(cudaGetLastError(), "synthetic fill launch");
}

}  // namespace

Status FillSynthetic(SynthFill what, void* dst, int64_t count, uint64_t seed, cudaStream_t stream) {
  if (count == 0) return Status::Ok();
  if (dst == nullptr || count < 0) {
    return Status::InvalidArgument("FillSynthetic: null destination or negative count");
  }
  switch (what) {
    case SynthFill::kQweight:
      return Launch<SynthFill::kQweight, uint32_t>(dst, count, seed, stream);
    case SynthFill::kScales:
      return Launch<SynthFill::kScales, uint16_t>(dst, count, seed, stream);
    case SynthFill::kAux:
      return Launch<SynthFill::kAux, uint32_t>(dst, count, seed, stream);
    case SynthFill::kBlockScales:
      return Launch<SynthFill::kBlockScales, uint8_t>(dst, count, seed, stream);
    case SynthFill::kActivations:
      return Launch<SynthFill::kActivations, uint16_t>(dst, count, seed, stream);
    case SynthFill::kFp16Weights:
      return Launch<SynthFill::kFp16Weights, uint16_t>(dst, count, seed, stream);
  }
  return Status::InvalidArgument("FillSynthetic: unknown tensor");
}

}  // namespace qlab::kernels::gemv
