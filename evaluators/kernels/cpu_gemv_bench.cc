// CPU GEMV benchmark harness (see cpu_gemv_bench.h).
#include "evaluators/kernels/cpu_gemv_bench.h"

#include <dlfcn.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <random>

#include "common/int_math.h"
#include "evaluators/datatypes/parallel.h"
#include "evaluators/kernels/cpu_gemv_operands.h"
#include "evaluators/kernels/gemv_synthetic.h"

#if defined(QLAB_HAVE_CBLAS)
#include <cblas.h>
#endif

namespace qlab::kernels {
namespace {

using Clock = std::chrono::steady_clock;

double Percentile(std::vector<double> v, double q) {
  std::sort(v.begin(), v.end());
  const double pos = q * static_cast<double>(v.size() - 1);
  const size_t lo = static_cast<size_t>(pos);
  const size_t hi = std::min(lo + 1, v.size() - 1);
  return v[lo] + (v[hi] - v[lo]) * (pos - static_cast<double>(lo));
}

int64_t AvailableMemoryBytes() {
  const long pages = sysconf(_SC_AVPHYS_PAGES), page = sysconf(_SC_PAGESIZE);
  return pages > 0 && page > 0 ? int64_t{pages} * page : int64_t{1} << 32;
}

// OpenBLAS's thread count, set through dlsym so that any BLAS links (and the reference BLAS,
// which has no threads, still works).
void SetBlasThreads(int threads) {
  using SetThreads = void (*)(int);
  if (auto fn = reinterpret_cast<SetThreads>(dlsym(RTLD_DEFAULT, "openblas_set_num_threads"))) fn(threads);
}

// Relative rms distance of a from b.
double RelRms(const std::vector<double>& a, const std::vector<double>& b) {
  double num = 0, den = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    num += (a[i] - b[i]) * (a[i] - b[i]);
    den += b[i] * b[i];
  }
  return den > 0 ? std::sqrt(num / den) : 0.0;
}

// The format's weight error and the int8 mode's activation error on 32 rows of Gaussian
// weights (std 0.02, 1 in 997 an outlier x12), through the reference (not the kernel).
void QuantizationErrors(CpuGemvFormat format, int64_t k, int m, uint64_t seed, CpuGemvBenchResult* r) {
  const int64_t rows = 32;
  std::mt19937 rng(static_cast<uint32_t>(seed));
  std::normal_distribution<float> normal(0.0f, 0.02f);
  std::vector<float> w(rows * k);
  for (size_t i = 0; i < w.size(); ++i) w[i] = normal(rng) * (i % 997 == 0 ? 12.0f : 1.0f);
  auto packed = PackCpuMatrix(format, w.data(), rows, k);
  if (!packed.ok()) return;
  const std::vector<float> wq = DequantizeCpuRows(*packed, AllRows(rows));
  const std::vector<float> x = SynthCpuActivations(m, k, seed + 1);
  const std::vector<float> xq = Int8ActivationValues(x.data(), m, k);
  const std::vector<double> exact = CpuReferenceGemv(w, rows, k, x.data(), m);
  const std::vector<double> weights_only = CpuReferenceGemv(wq, rows, k, x.data(), m);
  const std::vector<double> both = CpuReferenceGemv(wq, rows, k, xq.data(), m);
  r->weight_rel_err = RelRms(weights_only, exact);
  r->activation_rel_err = r->activations == ActivationMode::kInt8 ? RelRms(both, weights_only) : 0.0;
}

}  // namespace

int64_t LastLevelCacheBytes() {
  const long l3 = sysconf(_SC_LEVEL3_CACHE_SIZE);
  if (l3 > 0) return l3;
  const long l2 = sysconf(_SC_LEVEL2_CACHE_SIZE);
  return l2 > 0 ? l2 : int64_t{48} << 20;
}

bool HaveBlas() {
#if defined(QLAB_HAVE_CBLAS)
  return true;
#else
  return false;
#endif
}

std::string BlasDescription() {
#if defined(QLAB_HAVE_CBLAS)
  using GetConfig = char* (*)();
  if (auto fn = reinterpret_cast<GetConfig>(dlsym(RTLD_DEFAULT, "openblas_get_config"))) return fn();
  return "CBLAS (not OpenBLAS: probably the reference BLAS; install libopenblas0-pthread)";
#else
  return "none: built without CBLAS (libblas-dev)";
#endif
}

std::vector<CpuTiming> TimeCpuCallsInterleaved(const std::vector<TimedCall>& calls,
                                               const CpuBenchOptions& options) {
  const size_t n = calls.size();
  std::vector<int> next_copy(n, 0);
  auto call = [&](size_t i) {
    calls[i].fn(next_copy[i]);
    next_copy[i] = (next_copy[i] + 1) % std::max(1, calls[i].copies);
  };
  std::vector<CpuTiming> timings(n);
  // Warm-up: at least warmup_ms and 3 calls each; its mean call time sizes the samples.
  for (size_t i = 0; i < n; ++i) {
    const auto start = Clock::now();
    int warm_calls = 0;
    double elapsed_us = 0;
    while (warm_calls < 3 || elapsed_us < options.warmup_ms * 1000.0) {
      call(i);
      ++warm_calls;
      elapsed_us = std::chrono::duration<double, std::micro>(Clock::now() - start).count();
    }
    const double per_call_us = std::max(0.01, elapsed_us / warm_calls);
    timings[i].calls_per_sample =
        static_cast<int>(std::clamp(std::ceil(options.min_sample_us / per_call_us), 1.0, 1e6));
  }
  std::vector<std::vector<double>> samples(n);
  for (int s = 0; s < options.repetitions; ++s) {
    for (size_t i = 0; i < n; ++i) {
      const auto t0 = Clock::now();
      for (int c = 0; c < timings[i].calls_per_sample; ++c) call(i);
      samples[i].push_back(std::chrono::duration<double, std::micro>(Clock::now() - t0).count() /
                           timings[i].calls_per_sample);
    }
  }
  for (size_t i = 0; i < n; ++i) {
    CpuTiming& t = timings[i];
    const std::vector<double>& v = samples[i];
    t.samples = static_cast<int>(v.size());
    t.median_us = Percentile(v, 0.5);
    t.p10_us = Percentile(v, 0.1);
    t.p90_us = Percentile(v, 0.9);
    double mean = 0, var = 0;
    for (double x : v) mean += x;
    mean /= static_cast<double>(v.size());
    for (double x : v) var += (x - mean) * (x - mean);
    t.stddev_us = v.size() > 1 ? std::sqrt(var / static_cast<double>(v.size() - 1)) : 0.0;
  }
  return timings;
}

StatusOr<CpuGemvBenchResult> RunCpuGemvBenchmark(CpuGemvFormat format, int64_t n, int64_t k, int m,
                                                 const CpuBenchOptions& options,
                                                 const std::function<bool()>& cancelled) {
  auto stop = [&] { return cancelled && cancelled(); };
  CpuGemvBenchResult r;
  r.format = format;
  r.n = n;
  r.k = k;
  r.m = m;
  r.isa = options.isa;
  r.activations = options.activations;
  r.threads = datatypes::ParallelThreads(1 << 20, options.threads, 1);
  CpuWeights shape_only;
  shape_only.format = format;
  shape_only.n = n;
  shape_only.k = k;
  shape_only.qweight = reinterpret_cast<const uint8_t*>(&r);  // shape checks only
  shape_only.scales_fp16 = reinterpret_cast<const uint16_t*>(&r);
  shape_only.aux_words = reinterpret_cast<const uint32_t*>(&r);
  shape_only.aux_bytes = reinterpret_cast<const uint8_t*>(&r);
  RETURN_IF_ERROR(ValidateCpuGemv(shape_only, m));
  if (!CpuIsaSupported(options.isa)) {
    return Status::FailedPrecondition(std::string("this CPU or build has no ") + CpuIsaName(options.isa) +
                                      " path");
  }
  r.have_blas = HaveBlas();
  r.weight_bytes = CpuGemvWeightBytes(format, n, k);
  r.bytes_moved = r.weight_bytes + int64_t{4} * m * (k + n);
  const int64_t rotation = options.rotation_bytes > 0 ? options.rotation_bytes : 2 * LastLevelCacheBytes();
  r.rotation_copies = static_cast<int>(std::clamp<int64_t>(CeilDiv(rotation, r.weight_bytes), 1, 4096));
  const int64_t blas_bytes = n * k * 4;
  const int blas_copies = static_cast<int>(std::clamp<int64_t>(CeilDiv(rotation, blas_bytes), 1, 4096));
  const int64_t need = r.weight_bytes * r.rotation_copies + (r.have_blas ? blas_bytes * blas_copies : 0);
  if (need > AvailableMemoryBytes() * 6 / 10) {
    return Status::ResourceExhausted("kernel_bench: the operands need " + std::to_string(need >> 20) +
                                     " MiB, more than 60% of the memory available (" +
                                     std::to_string(AvailableMemoryBytes() >> 20) + " MiB)");
  }

  // Operands: one synthetic matrix and copies of it for rotation.
  std::vector<CpuPackedMatrix> copies;
  copies.push_back(SynthCpuMatrix(format, n, k, options.seed, options.threads));
  for (int c = 1; c < r.rotation_copies; ++c) copies.push_back(copies.front());
  const std::vector<float> x = SynthCpuActivations(m, k, options.seed + 17);
  std::vector<float> y(m * n);
  CpuGemvWorkspace ws;
  const CpuGemvOptions gemv{options.isa, options.activations, options.threads, options.prefetch_bytes};
  if (stop()) return Status::Cancelled("kernel_bench cancelled");

  // Check first: a wrong kernel is not timed.
  RETURN_IF_ERROR(CpuGemv(copies.front().View(), x.data(), m, y.data(), gemv, &ws));
  const std::vector<int64_t> rows = SampleRows(n, options.check_rows);
  r.rows_checked = static_cast<int64_t>(rows.size());
  const std::vector<float> x_used =
      options.activations == ActivationMode::kInt8 ? Int8ActivationValues(x.data(), m, k) : x;
  const std::vector<double> ref = CpuReferenceGemv(DequantizeCpuRows(copies.front(), rows),
                                                   r.rows_checked, k, x_used.data(), m);
  std::vector<float> got(m * rows.size());
  for (int b = 0; b < m; ++b)
    for (size_t i = 0; i < rows.size(); ++i) got[b * rows.size() + i] = y[b * n + rows[i]];
  r.check = CompareGemv(ref, got, kCpuGemvRelErrBound);
  QuantizationErrors(format, k, m, options.seed, &r);
  if (stop()) return Status::Cancelled("kernel_bench cancelled");

  uint64_t sink = 0;
  std::vector<TimedCall> calls = {
      {[&](int c) { (void)CpuGemv(copies[c].View(), x.data(), m, y.data(), gemv, &ws); }, r.rotation_copies},
      {[&](int c) {
         sink += CpuStreamRead(copies[c].qweight.data(), static_cast<int64_t>(copies[c].qweight.size()),
                               options.isa, options.threads);
       },
       r.rotation_copies}};
#if defined(QLAB_HAVE_CBLAS)
  std::vector<std::vector<float>> w32(blas_copies);
  for (auto& w : w32) {
    w.resize(n * k);
    datatypes::ParallelFor(n, options.threads, 16, [&](int64_t begin, int64_t end) {
      for (int64_t i = begin * k; i < end * k; ++i) {
        w[i] = static_cast<float>(static_cast<int32_t>(SynthHash(options.seed, SynthTensor::kFp16Weights, i))) * 1e-11f;
      }
    });
  }
  SetBlasThreads(r.threads);
  std::vector<float> y_blas(m * n);
  const TimedCall blas_call{[&](int c) {
                     if (m == 1) {
                       cblas_sgemv(CblasRowMajor, CblasNoTrans, static_cast<int>(n), static_cast<int>(k), 1.0f,
                                   w32[c].data(), static_cast<int>(k), x.data(), 1, 0.0f, y_blas.data(), 1);
                     } else {
                       cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, m, static_cast<int>(n),
                                   static_cast<int>(k), 1.0f, x.data(), static_cast<int>(k), w32[c].data(),
                                   static_cast<int>(k), 0.0f, y_blas.data(), static_cast<int>(n));
                     }
                   },
                   blas_copies};
#endif
  if (stop()) return Status::Cancelled("kernel_bench cancelled");
  const std::vector<CpuTiming> timings = TimeCpuCallsInterleaved(calls, options);
  r.kernel = timings[0];
  r.read = timings[1];
#if defined(QLAB_HAVE_CBLAS)
  // Timed after, not between: OpenBLAS's threads spin for a while after each call and would
  // take the cores from the samples that follow them.
  if (stop()) return Status::Cancelled("kernel_bench cancelled");
  r.blas = TimeCpuCallsInterleaved({blas_call}, options)[0];
  r.blas_effective_gbps = static_cast<double>(blas_bytes + int64_t{4} * m * (k + n)) / (r.blas.median_us * 1e3);
#endif
  // The read covers the payload; the few metadata bytes are read at the same rate.
  r.read_bw_gbps = static_cast<double>(copies.front().qweight.size()) / (r.read.median_us * 1e3);
  r.effective_gbps = static_cast<double>(r.bytes_moved) / (r.kernel.median_us * 1e3);
  if (sink == 42) r.read.samples += 0;  // keeps the reads observable
  return r;
}

}  // namespace qlab::kernels
