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

// The FP32 BLAS, opened at run time: a worker without one still runs (and reports no
// baseline), and binaries carried to other machines do not drag a BLAS along. Which library
// libblas.so.3 is comes from the system (Debian's alternatives: OpenBLAS here).
struct Blas {
  // CBLAS enums are ints in the ABI: RowMajor 101, NoTrans 111, Trans 112.
  using Sgemv = void (*)(int, int, int, int, float, const float*, int, const float*, int, float, float*, int);
  using Sgemm = void (*)(int, int, int, int, int, int, float, const float*, int, const float*, int, float,
                         float*, int);
  Sgemv sgemv = nullptr;
  Sgemm sgemm = nullptr;
  void (*set_threads)(int) = nullptr;
  char* (*get_config)() = nullptr;
  std::string library;
  bool ok() const { return sgemv != nullptr && sgemm != nullptr; }
};
constexpr int kRowMajor = 101, kNoTrans = 111, kTrans = 112;

const Blas& LoadBlas() {
  static const Blas* blas = [] {
    auto* b = new Blas();
    for (const char* name : {"libcblas.so.3", "libblas.so.3", "libopenblas.so.0"}) {
      void* handle = dlopen(name, RTLD_NOW | RTLD_LOCAL);
      if (handle == nullptr) continue;
      b->sgemv = reinterpret_cast<Blas::Sgemv>(dlsym(handle, "cblas_sgemv"));
      b->sgemm = reinterpret_cast<Blas::Sgemm>(dlsym(handle, "cblas_sgemm"));
      if (!b->ok()) continue;
      b->set_threads = reinterpret_cast<void (*)(int)>(dlsym(handle, "openblas_set_num_threads"));
      b->get_config = reinterpret_cast<char* (*)()>(dlsym(handle, "openblas_get_config"));
      b->library = name;
      break;
    }
    return b;
  }();
  return *blas;
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

bool HaveBlas() { return LoadBlas().ok(); }

std::string BlasDescription() {
  const Blas& blas = LoadBlas();
  if (!blas.ok()) return "none: no libcblas.so.3 / libblas.so.3 with CBLAS found (install libopenblas0-pthread)";
  if (blas.get_config != nullptr) return blas.library + ": " + blas.get_config();
  return blas.library + " (not OpenBLAS: probably the reference BLAS; install libopenblas0-pthread)";
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

// FP32 BLAS y = x W^T of the same shape over `copies` synthetic FP32 matrices (GEMV for m = 1,
// GEMM otherwise), on `threads` OpenBLAS threads. REQUIRES: LoadBlas().ok().
CpuTiming TimeBlasGemv(int64_t n, int64_t k, int m, const std::vector<float>& x, int copies, int threads,
                       const CpuBenchOptions& options) {
  const Blas& blas = LoadBlas();
  std::vector<std::vector<float>> w32(copies);
  for (auto& w : w32) {
    w.resize(n * k);
    datatypes::ParallelFor(n, options.threads, 16, [&](int64_t begin, int64_t end) {
      for (int64_t i = begin * k; i < end * k; ++i) {
        w[i] = static_cast<float>(static_cast<int32_t>(SynthHash(options.seed, SynthTensor::kFp16Weights, i))) * 1e-11f;
      }
    });
  }
  if (blas.set_threads != nullptr) blas.set_threads(threads);
  std::vector<float> y(m * n);
  const int in = static_cast<int>(n), ik = static_cast<int>(k);
  return TimeCpuCallsInterleaved(
      {{[&](int c) {
          if (m == 1) {
            blas.sgemv(kRowMajor, kNoTrans, in, ik, 1.0f, w32[c].data(), ik, x.data(), 1, 0.0f, y.data(), 1);
          } else {
            blas.sgemm(kRowMajor, kNoTrans, kTrans, m, in, ik, 1.0f, x.data(), ik, w32[c].data(), ik, 0.0f,
                       y.data(), in);
          }
        },
        copies}},
      options)[0];
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
                               options.isa, options.threads, options.prefetch_bytes);
       },
       r.rotation_copies}};
  if (stop()) return Status::Cancelled("kernel_bench cancelled");
  const std::vector<CpuTiming> timings = TimeCpuCallsInterleaved(calls, options);
  r.kernel = timings[0];
  r.read = timings[1];
  if (r.have_blas) {
    // Timed after, not between: OpenBLAS's threads spin for a while after each call and would
    // take the cores from the samples that follow them.
    if (stop()) return Status::Cancelled("kernel_bench cancelled");
    r.blas = TimeBlasGemv(n, k, m, x, blas_copies, r.threads, options);
    r.blas_effective_gbps = static_cast<double>(blas_bytes + int64_t{4} * m * (k + n)) / (r.blas.median_us * 1e3);
  }
  // The read covers the payload; the few metadata bytes are read at the same rate.
  r.read_bw_gbps = static_cast<double>(copies.front().qweight.size()) / (r.read.median_us * 1e3);
  r.effective_gbps = static_cast<double>(r.bytes_moved) / (r.kernel.median_us * 1e3);
  if (sink == 42) r.read.samples += 0;  // keeps the reads observable
  return r;
}

}  // namespace qlab::kernels
