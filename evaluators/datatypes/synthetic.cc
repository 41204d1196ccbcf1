// Synthetic tensors (see synthetic.h for the exact generator, which is part of the contract).
#include "evaluators/datatypes/synthetic.h"

#include <cmath>
#include <numbers>
#include <string>

#include "evaluators/datatypes/parallel.h"

namespace qlab::datatypes {
namespace {

inline uint64_t SplitMix64Mix(uint64_t z) {
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

class RowStream {
 public:
  RowStream(uint64_t seed, int64_t row)
      : state_(SplitMix64Mix(seed) ^ (static_cast<uint64_t>(row) * 0xD1B54A32D192ED03ull)) {}
  uint64_t Next() {
    state_ += 0x9E3779B97F4A7C15ull;
    return SplitMix64Mix(state_);
  }
  // Uniform in the open interval (0, 1).
  double Uniform() { return (static_cast<double>(Next() >> 11) + 0.5) * 0x1.0p-53; }

 private:
  uint64_t state_;
};

constexpr uint64_t kOutlierStreamSalt = 0x6F75746C696572ull;

void FillRow(const SyntheticSpec& spec, int64_t row, float* out) {
  RowStream rng(spec.seed, row);
  const int64_t n = spec.cols;
  switch (spec.distribution) {
    case Distribution::kGaussian:
      for (int64_t j = 0; j < n; j += 2) {
        const double r = std::sqrt(-2.0 * std::log(rng.Uniform()));
        const double theta = 2.0 * std::numbers::pi * rng.Uniform();
        out[j] = static_cast<float>(r * std::cos(theta));
        if (j + 1 < n) out[j + 1] = static_cast<float>(r * std::sin(theta));
      }
      break;
    case Distribution::kStudentT:
      for (int64_t j = 0; j < n; ++j) {
        double u, v, w;
        do {
          u = 2.0 * rng.Uniform() - 1.0;
          v = 2.0 * rng.Uniform() - 1.0;
          w = u * u + v * v;
        } while (w >= 1.0 || w == 0.0);
        out[j] = static_cast<float>(
            u * std::sqrt(spec.nu * (std::pow(w, -2.0 / spec.nu) - 1.0) / w));
      }
      break;
    case Distribution::kLaplace:
      for (int64_t j = 0; j < n; ++j) {
        const double c = rng.Uniform() - 0.5;
        const double mag = -std::log(1.0 - 2.0 * std::fabs(c));
        out[j] = static_cast<float>(c < 0 ? -mag : mag);
      }
      break;
  }
  if (spec.outlier_fraction > 0) {
    RowStream outliers(spec.seed ^ kOutlierStreamSalt, row);
    for (int64_t j = 0; j < n; ++j) {
      if (outliers.Uniform() < spec.outlier_fraction) {
        out[j] = static_cast<float>(out[j] * spec.outlier_scale);
      }
    }
  }
}

}  // namespace

StatusOr<Distribution> ParseDistribution(std::string_view name) {
  if (name == "gaussian") return Distribution::kGaussian;
  if (name == "student_t") return Distribution::kStudentT;
  if (name == "laplace") return Distribution::kLaplace;
  return Status::InvalidArgument("distribution must be gaussian, student_t or laplace, got '" +
                                 std::string(name) + "'");
}

StatusOr<std::vector<float>> GenerateSynthetic(const SyntheticSpec& spec, int num_threads) {
  if (spec.rows <= 0 || spec.cols <= 0) {
    return Status::InvalidArgument("shape must be two positive integers, got [" +
                                   std::to_string(spec.rows) + ", " + std::to_string(spec.cols) +
                                   "]");
  }
  if (spec.rows > kMaxSyntheticElements / spec.cols) {
    return Status::InvalidArgument("shape has more than 2^28 elements");
  }
  if (!(spec.nu > 0) || !std::isfinite(spec.nu)) {
    return Status::InvalidArgument("nu must be a positive number");
  }
  if (!(spec.outlier_fraction >= 0 && spec.outlier_fraction <= 1)) {
    return Status::InvalidArgument("outlier_fraction must be in [0, 1]");
  }
  if (!std::isfinite(spec.outlier_scale)) {
    return Status::InvalidArgument("outlier_scale must be finite");
  }
  std::vector<float> out(spec.rows * spec.cols);
  ParallelFor(spec.rows, num_threads, std::max<int64_t>(1, 16384 / spec.cols),
              [&](int64_t r0, int64_t r1) {
                for (int64_t r = r0; r < r1; ++r) FillRow(spec, r, &out[r * spec.cols]);
              });
  return out;
}

}  // namespace qlab::datatypes
