// Deterministic synthetic GEMV operands, defined element by element by a hash of (seed, tensor,
// index) so that a GPU fill kernel and the host produce identical bits. The benchmark fills
// multi-hundred-megabyte weights on the device and rebuilds only the rows it verifies on the host.
//
// The packed formats get uniformly random nibbles (every code, including RaZeR's special-value
// code 0x8, appears about 1/16 of the time), random selectors and zero points, FP16 scales in
// [2^-5, 2^-4), E4M3 block scales in [2^-9, 15] including subnormals; activations are FP16 with
// magnitudes in [2^-5, 2) and random signs. Realistic (quantized Gaussian) weights are produced
// by the datatype library's packers instead (evaluators/datatypes/packing.h).
#pragma once

#include <cstdint>
#include <vector>

#include "evaluators/datatypes/packing.h"
#include "evaluators/kernels/gemv_format.h"
#include "evaluators/kernels/gemv_lane.h"

namespace qlab::kernels {

// Tensor ids mixed into the hash.
enum class SynthTensor : uint32_t {
  kQweight = 1,
  kScales = 2,
  kAux = 3,  // selectors (razer) or zero points (int4)
  kBlockScales = 4,
  kActivations = 5,
  kFp16Weights = 6,
};

QLAB_HD uint32_t SynthHash(uint64_t seed, SynthTensor tensor, uint64_t index) {
  // splitmix64 finalizer over a combination of the three inputs.
  uint64_t z = seed * 0x9E3779B97F4A7C15ull + (static_cast<uint64_t>(tensor) << 58) + index;
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return static_cast<uint32_t>((z ^ (z >> 31)) >> 16);
}

// Word `index` of qweight (index = row * k/8 + word).
QLAB_HD uint32_t SynthQweightWord(uint64_t seed, uint64_t index) {
  return SynthHash(seed, SynthTensor::kQweight, index);
}
// FP16 group scale bits in [2^-5, 2^-4) (index = row * groups + group).
QLAB_HD uint16_t SynthScaleBits(uint64_t seed, uint64_t index) {
  return static_cast<uint16_t>(0x2800u | (SynthHash(seed, SynthTensor::kScales, index) & 0x3FFu));
}
// Selector / zero-point word (index = row * words + word); all 32 bits random, so the unused
// fields of a row's last word are garbage that the kernels must ignore.
QLAB_HD uint32_t SynthAuxWord(uint64_t seed, uint64_t index) {
  return SynthHash(seed, SynthTensor::kAux, index);
}
// E4M3 block scale: exponent field 0..10 (0 = subnormal, never zero), any mantissa; max 15.
QLAB_HD uint8_t SynthBlockScale(uint64_t seed, uint64_t index) {
  const uint32_t h = SynthHash(seed, SynthTensor::kBlockScales, index);
  const uint32_t exponent = h % 11u;
  const uint32_t mantissa = exponent == 0 ? 1u + (h >> 8) % 7u : (h >> 8) & 7u;
  return static_cast<uint8_t>(exponent << 3 | mantissa);
}
// The NVFP4 tensor scale of synthetic weights.
inline constexpr float kSynthTensorScale = 0.02f;
// FP16 activation bits (index = b * k + kk): sign random, exponent field 10..14, mantissa random.
QLAB_HD uint16_t SynthActivationBits(uint64_t seed, uint64_t index) {
  const uint32_t h = SynthHash(seed, SynthTensor::kActivations, index);
  return static_cast<uint16_t>((h >> 31) << 15 | (10u + (h >> 10) % 5u) << 10 | (h & 0x3FFu));
}
// FP16 weight bits of the cuBLAS baseline (index = row * k + kk): magnitudes in [2^-7, 2^-1).
QLAB_HD uint16_t SynthFp16WeightBits(uint64_t seed, uint64_t index) {
  const uint32_t h = SynthHash(seed, SynthTensor::kFp16Weights, index);
  return static_cast<uint16_t>((h >> 31) << 15 | (8u + (h >> 10) % 6u) << 10 | (h & 0x3FFu));
}

// Host copies of the synthetic operands. `rows` lists the rows of W to build (in that order);
// the result is a packed matrix of rows.size() rows with the same k (and tensor scale), exactly
// the bytes the device fill produces for those rows. REQUIRES: a valid packed shape.
datatypes::PackedRazerW4 SynthRazerW4Rows(const GemvShape& shape, uint64_t seed,
                                          const std::vector<int64_t>& rows);
datatypes::PackedInt4Asym SynthInt4AsymRows(const GemvShape& shape, uint64_t seed,
                                            const std::vector<int64_t>& rows);
datatypes::PackedNvfp4 SynthNvfp4Rows(const GemvShape& shape, uint64_t seed,
                                      const std::vector<int64_t>& rows);
// FP16 bits [rows.size(), k] of the baseline's weights.
std::vector<uint16_t> SynthFp16WeightRows(const GemvShape& shape, uint64_t seed,
                                          const std::vector<int64_t>& rows);
// FP16 bits [m, k] of x.
std::vector<uint16_t> SynthActivations(const GemvShape& shape, uint64_t seed);

// All rows 0..n-1 (small shapes) and an evenly spread sample of at most `max_rows` rows that
// always includes the first and the last row (large shapes).
std::vector<int64_t> AllRows(int64_t n);
std::vector<int64_t> SampleRows(int64_t n, int64_t max_rows);

}  // namespace qlab::kernels
