// Host half of the GEMV checks: the sweep, host problems and the emulator check (gemv_check.h).
#include "evaluators/kernels/gemv_check.h"

#include <random>
#include <tuple>

#include "evaluators/datatypes/minifloat.h"
#include "evaluators/kernels/gemv_emulator.h"
#include "evaluators/kernels/gemv_synthetic.h"

namespace qlab::kernels {
namespace {

// N(0, 1) with 1% of the weights scaled by 8 (outliers, so RaZeR's special values get used).
std::vector<float> GaussianWeights(int64_t n, int64_t k, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<float> normal(0.f, 1.f);
  std::uniform_real_distribution<float> uniform(0.f, 1.f);
  std::vector<float> w(static_cast<size_t>(n) * k);
  for (float& v : w) v = normal(rng) * (uniform(rng) < 0.01f ? 8.f : 1.f);
  return w;
}

}  // namespace

std::string GemvCheckCase::ToString() const {
  return std::string(GemvKernelName(kernel)) + " m=" + std::to_string(shape.m) +
         " n=" + std::to_string(shape.n) + " k=" + std::to_string(shape.k) + " splits=" +
         (forced_splits == 0  ? std::string("auto")
          : forced_splits < 0 ? std::string("max")
                              : std::to_string(forced_splits)) +
         (weights == CheckWeights::kRandomBits ? " random-bits" : " quantized-gaussian");
}

std::string GemvCheckResult::ToString() const {
  std::string s = std::string(ok() ? "PASS " : "FAIL ") + c.ToString();
  if (!launch.empty()) s += " [" + launch + "]";
  if (!status.ok()) return s + " " + status.ToString();
  s += " " + cmp.ToString();
  if (!deterministic) s += " NOT DETERMINISTIC (second launch differs)";
  return s;
}

std::vector<GemvCheckCase> StandardCheckCases(bool quick) {
  struct Shape {
    int64_t n, k;
    std::vector<int> batches;
    std::vector<int> splits;
  };
  const std::vector<int> all_batches = {1, 2, 3, 4, 5, 6, 7, 8};
  // n ragged against the 64-row blocks and 16-row warps; k = 128 * odd numbers of groups.
  std::vector<Shape> shapes = {
      {1, 128, {1, 8}, {0}},
      {64, 128, all_batches, {0}},
      {100, 384, all_batches, {0, 1, 2, 3}},
      {129, 1152, {1, 3, 8}, {0, 1, 5, -1}},
      {1000, 2944, {1, 2, 4, 8}, {0, 1, 7, -1}},
      {4104, 1408, {1, 8}, {0, 3}},
  };
  if (!quick) {
    shapes.push_back({4096, 11008, {1, 8}, {0}});
    shapes.push_back({11008, 4096, {1, 8}, {0}});
    shapes.push_back({8192, 8192, {1, 4, 8}, {0}});
  }
  std::vector<GemvCheckCase> cases;
  for (GemvKernel kernel : kAllGemvKernels) {
    for (const Shape& s : shapes) {
      for (int m : s.batches) {
        for (int splits : s.splits) {
          if (!IsPackedKernel(kernel) && splits != 0) continue;
          GemvCheckCase c;
          c.kernel = kernel;
          c.shape = {s.n, s.k, m};
          c.forced_splits = splits;
          c.seed = static_cast<uint64_t>(s.n * 131 + s.k + m);
          cases.push_back(c);
        }
      }
      // Realistic weights on one mid-sized shape per kernel.
      if (s.n == 1000) {
        GemvCheckCase c;
        c.kernel = kernel;
        c.shape = {s.n, s.k, 4};
        c.weights = CheckWeights::kQuantizedGaussian;
        c.seed = 7;
        cases.push_back(c);
      }
    }
  }
  return cases;
}

std::vector<GemvCheckCase> EmulatorCheckCases() {
  std::vector<GemvCheckCase> cases;
  for (GemvKernel kernel : {GemvKernel::kRazerW4, GemvKernel::kInt4Asym, GemvKernel::kNvfp4}) {
    for (const auto& [n, k, m, splits, weights] :
         std::vector<std::tuple<int64_t, int64_t, int, int, CheckWeights>>{
             {64, 128, 1, 0, CheckWeights::kRandomBits},
             {100, 384, 3, 1, CheckWeights::kRandomBits},
             {100, 384, 8, 2, CheckWeights::kRandomBits},
             {130, 1152, 5, -1, CheckWeights::kRandomBits},
             {70, 1152, 2, 0, CheckWeights::kQuantizedGaussian},
         }) {
      GemvCheckCase c;
      c.kernel = kernel;
      c.shape = {n, k, m};
      c.forced_splits = splits;
      c.weights = weights;
      c.seed = static_cast<uint64_t>(n + k + m);
      cases.push_back(c);
    }
  }
  return cases;
}

gemv::PackedPointers HostProblem::pointers() const {
  gemv::PackedPointers p;
  switch (c.kernel) {
    case GemvKernel::kRazerW4:
      p.qweight = razer.qweight.data();
      p.scales = razer.scales_fp16.data();
      p.aux = razer.selectors.data();
      break;
    case GemvKernel::kInt4Asym:
      p.qweight = int4.qweight.data();
      p.scales = int4.scales_fp16.data();
      p.aux = int4.zeros.data();
      break;
    case GemvKernel::kNvfp4:
      p.qweight = nvfp4.qweight.data();
      p.block_scales = nvfp4.block_scales.data();
      break;
    case GemvKernel::kFp16Cublas:
      break;
  }
  return p;
}

float HostProblem::tensor_scale() const {
  return c.kernel == GemvKernel::kNvfp4 ? nvfp4.tensor_scale : 1.0f;
}

StatusOr<HostProblem> MakeHostProblem(const GemvCheckCase& c) {
  RETURN_IF_ERROR(ValidateGemvShape(c.kernel, c.shape));
  HostProblem p;
  p.c = c;
  const GemvShape& s = c.shape;
  p.x = SynthActivations(s, c.seed);
  if (c.weights == CheckWeights::kRandomBits) {
    const std::vector<int64_t> rows = AllRows(s.n);
    switch (c.kernel) {
      case GemvKernel::kRazerW4:
        p.razer = SynthRazerW4Rows(s, c.seed, rows);
        break;
      case GemvKernel::kInt4Asym:
        p.int4 = SynthInt4AsymRows(s, c.seed, rows);
        break;
      case GemvKernel::kNvfp4:
        p.nvfp4 = SynthNvfp4Rows(s, c.seed, rows);
        break;
      case GemvKernel::kFp16Cublas:
        p.fp16_weights = SynthFp16WeightRows(s, c.seed, rows);
        break;
    }
  } else {
    const std::vector<float> w = GaussianWeights(s.n, s.k, c.seed);
    switch (c.kernel) {
      case GemvKernel::kRazerW4: {
        ASSIGN_OR_RETURN(p.razer, datatypes::PackRazerW4(w.data(), s.n, s.k));
        break;
      }
      case GemvKernel::kInt4Asym: {
        ASSIGN_OR_RETURN(p.int4, datatypes::PackInt4Asym(w.data(), s.n, s.k));
        break;
      }
      case GemvKernel::kNvfp4: {
        ASSIGN_OR_RETURN(p.nvfp4, datatypes::PackNvfp4(w.data(), s.n, s.k));
        break;
      }
      case GemvKernel::kFp16Cublas:
        p.fp16_weights.resize(w.size());
        for (size_t i = 0; i < w.size(); ++i) {
          p.fp16_weights[i] = datatypes::FloatToFp16Bits(w[i] * 0.05f);
        }
        break;
    }
  }
  switch (c.kernel) {
    case GemvKernel::kRazerW4:
      p.ref = ReferenceGemv(p.razer, p.x.data(), s.m);
      break;
    case GemvKernel::kInt4Asym:
      p.ref = ReferenceGemv(p.int4, p.x.data(), s.m);
      break;
    case GemvKernel::kNvfp4:
      p.ref = ReferenceGemv(p.nvfp4, p.x.data(), s.m);
      break;
    case GemvKernel::kFp16Cublas:
      p.ref = ReferenceGemvFp16(p.fp16_weights.data(), s.n, s.k, p.x.data(), s.m);
      break;
  }
  return p;
}

StatusOr<GemvLaunchConfig> PlanForCheck(const GemvCheckCase& c, const GemvDeviceLimits& limits) {
  const int splits =
      c.forced_splits < 0 ? static_cast<int>(c.shape.k / kGemvGroupK) : c.forced_splits;
  return PlanFusedGemv(c.kernel, c.shape, limits, splits);
}

GemvCheckResult RunEmulatorCheck(const GemvCheckCase& c) {
  GemvCheckResult r;
  r.c = c;
  StatusOr<HostProblem> problem = MakeHostProblem(c);
  if (!problem.ok()) {
    r.status = problem.status();
    return r;
  }
  StatusOr<GemvLaunchConfig> config = PlanForCheck(c, GemvDeviceLimits{});
  if (!config.ok()) {
    r.status = config.status();
    return r;
  }
  r.launch = config->ToString();
  StatusOr<std::vector<uint16_t>> y =
      EmulateFusedGemv(*config, problem->pointers(), problem->tensor_scale(), problem->x.data());
  if (!y.ok()) {
    r.status = y.status();
    return r;
  }
  r.cmp = CompareGemv(problem->ref, *y);
  return r;
}

}  // namespace qlab::kernels
