// Deterministic synthetic weight tensors: Gaussian, Student-t and Laplace, with optional outlier
// injection. Row r is drawn from its own SplitMix64 stream seeded from (seed, r), so a tensor is
// identical for any thread count and a row does not depend on the shape's row count.
//
// Generator (stable; results stored by earlier runs depend on it):
//   stream(seed, r): SplitMix64 with state = SplitMix64Mix(seed) ^ (r * 0xD1B54A32D192ED03);
//   uniform u in (0, 1): ((next >> 11) + 0.5) * 2^-53.
//   gaussian (std 1): Box-Muller, both outputs used (cos then sin).
//   student_t (scale 1, nu > 0): Bailey's polar method, one accepted (u, v) pair per value:
//     u, v uniform in (-1, 1), w = u^2 + v^2 in (0, 1), t = u * sqrt(nu * (w^(-2/nu) - 1) / w).
//   laplace (b = 1): x = -sign(u - 1/2) * ln(1 - 2|u - 1/2|).
//   outliers: an independent stream (seed ^ 0x6F75746C696572, r); each element is multiplied by
//     outlier_scale with probability outlier_fraction, so the base values do not change.
// Values are computed in double with glibc's libm and rounded to float.
#pragma once

#include <cstdint>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace qlab::datatypes {

enum class Distribution : uint8_t { kGaussian, kStudentT, kLaplace };

// "gaussian", "student_t", "laplace"; INVALID_ARGUMENT otherwise.
StatusOr<Distribution> ParseDistribution(std::string_view name);

struct SyntheticSpec {
  Distribution distribution = Distribution::kGaussian;
  int64_t rows = 0, cols = 0;
  uint64_t seed = 0;
  double nu = 5.0;                // Student-t degrees of freedom. Default 5.
  double outlier_fraction = 0.0;  // probability per element. Default 0 (none).
  double outlier_scale = 10.0;    // multiplier of an outlier. Default 10.
};

// Largest tensor GenerateSynthetic accepts (elements): 1 GiB of float.
inline constexpr int64_t kMaxSyntheticElements = int64_t{1} << 28;

// A [rows, cols] row-major tensor. INVALID_ARGUMENT for rows/cols <= 0, more than
// kMaxSyntheticElements, nu <= 0, outlier_fraction outside [0, 1] or a non-finite outlier_scale.
StatusOr<std::vector<float>> GenerateSynthetic(const SyntheticSpec& spec, int num_threads = 0);

}  // namespace qlab::datatypes
