// Dispatch, validation and activation preparation of the CPU GEMV kernels (see cpu_gemv.h).
#include "evaluators/kernels/cpu_gemv.h"

#include <algorithm>
#include <array>
#include <iterator>
#include <cmath>
#include <string>

#include "common/int_math.h"
#include "evaluators/datatypes/parallel.h"
#include "evaluators/kernels/cpu_gemv_task.h"

#if defined(__x86_64__)
#include <cpuid.h>
#endif

namespace qlab::kernels {
namespace {

namespace internal = cpu_gemv_internal;
constexpr int kGroup = internal::kGroup;

bool IsNibbleFormat(CpuGemvFormat f) { return f != CpuGemvFormat::kInt8Asym; }

// Decode tables (see cpu_gemv_task.h): doubled E2M1 values, signed for the fp32 mode and
// offset by +16 (unsigned) for the int8 mode; entry 8 of the RaZeR tables is the special value.
struct DecodeTables {
  int8_t e2m1[2][16];
  int8_t razer[2][4][16];
  DecodeTables() {
    constexpr int kDoubled[16] = {0, 1, 2, 3, 4, 6, 8, 12, 0, -1, -2, -3, -4, -6, -8, -12};
    constexpr int kSpecial[4] = {10, 16, -10, -16};
    for (int mode = 0; mode < 2; ++mode) {
      const int offset = mode == 1 ? internal::kLut16Offset : 0;
      for (int c = 0; c < 16; ++c) {
        e2m1[mode][c] = static_cast<int8_t>(kDoubled[c] + offset);
        for (int s = 0; s < 4; ++s) {
          razer[mode][s][c] = static_cast<int8_t>((c == 8 ? kSpecial[s] : kDoubled[c]) + offset);
        }
      }
    }
  }
};
const DecodeTables& Tables() {
  static const DecodeTables tables;
  return tables;
}

bool CpuHasF16c() {
#if defined(__x86_64__)
  unsigned eax = 0, ebx = 0, ecx = 0, edx = 0;
  return __get_cpuid(1, &eax, &ebx, &ecx, &edx) && (ecx & bit_F16C) != 0;
#else
  return false;
#endif
}

// Quantizes one 128-block: scale = absmax / 127, q = round-half-even(x / scale).
float QuantizeBlock(const float* x, int8_t* q) {
  float absmax = 0.0f;
  for (int i = 0; i < kGroup; ++i) absmax = std::max(absmax, std::fabs(x[i]));
  const float scale = absmax / 127.0f;
  const float inv = absmax > 0.0f ? 127.0f / absmax : 0.0f;
  for (int i = 0; i < kGroup; ++i) {
    q[i] = static_cast<int8_t>(std::clamp(std::nearbyint(x[i] * inv), -127.0f, 127.0f));
  }
  return scale;
}

// Position of element e of a 128-block in the prepared order: nibble formats keep the even
// elements in 0..63 and the odd ones in 64..127 (low and high nibbles of a row's bytes).
inline int PreparedPosition(bool nibbles, int e) { return nibbles ? (e & 1) * 64 + e / 2 : e; }

void PrepareActivations(CpuGemvFormat format, ActivationMode mode, const float* x, int m,
                        int64_t k, CpuGemvWorkspace& ws) {
  const bool nibbles = IsNibbleFormat(format);
  const int64_t groups = k / kGroup;
  // Every element is written below: resize, not assign, so a reused workspace costs nothing.
  ws.xscale.resize(m * groups);
  ws.xsum.resize(m * groups);
  ws.xsumf.resize(m * groups);
  if (mode == ActivationMode::kFp32) {
    ws.xf.resize(m * k);
    for (int64_t blk = 0; blk < m * groups; ++blk) {
      const float* src = x + blk * kGroup;
      float* dst = ws.xf.data() + blk * kGroup;
      float sum = 0.0f;
      for (int e = 0; e < kGroup; ++e) {
        dst[PreparedPosition(nibbles, e)] = src[e];
        sum += src[e];
      }
      ws.xsumf[blk] = sum;
    }
    return;
  }
  ws.xq.resize(m * k);
  if (format == CpuGemvFormat::kNvfp4) ws.xcorr.resize(m * groups * 16);
  int8_t q[kGroup];
  for (int64_t blk = 0; blk < m * groups; ++blk) {
    ws.xscale[blk] = QuantizeBlock(x + blk * kGroup, q);
    int8_t* dst = ws.xq.data() + blk * kGroup;
    int32_t sum = 0;
    for (int e = 0; e < kGroup; ++e) {
      dst[PreparedPosition(nibbles, e)] = q[e];
      sum += q[e];
    }
    ws.xsum[blk] = sum;
    if (format == CpuGemvFormat::kNvfp4) {
      // Lane i of a dot product sums prepared positions 4i..4i+3 and 64+4i..64+4i+3.
      for (int lane = 0; lane < 16; ++lane) {
        int32_t s = 0;
        for (int j = 0; j < 4; ++j) s += dst[4 * lane + j] + dst[64 + 4 * lane + j];
        ws.xcorr[blk * 16 + lane] = internal::kLut16Offset * s;
      }
    }
  }
}

using RowsFn = void (*)(const internal::Task&, int64_t, int64_t);

RowsFn RowsFor(CpuIsa isa) {
  switch (isa) {
#if defined(QLAB_CPU_GEMV_X86)
    case CpuIsa::kAvx2:
      return internal::GemvRowsAvx2;
    case CpuIsa::kAvx512:
      return internal::GemvRowsAvx512;
    case CpuIsa::kAvx512Vnni:
      return internal::GemvRowsAvx512Vnni;
#endif
    default:
      return internal::GemvRowsPortable;
  }
}

}  // namespace

const char* CpuGemvFormatName(CpuGemvFormat format) {
  switch (format) {
    case CpuGemvFormat::kInt4Asym: return "int4_asym";
    case CpuGemvFormat::kNvfp4: return "nvfp4";
    case CpuGemvFormat::kRazerFp4: return "razer_fp4";
    case CpuGemvFormat::kInt8Asym: return "int8_asym";
    case CpuGemvFormat::kE2m1: return "e2m1";
  }
  return "unknown";
}

std::optional<CpuGemvFormat> ParseCpuGemvFormat(std::string_view name) {
  if (name == "razer_w4") return CpuGemvFormat::kRazerFp4;
  for (CpuGemvFormat f : kAllCpuGemvFormats) {
    if (name == CpuGemvFormatName(f)) return f;
  }
  return std::nullopt;
}

int CpuGemvGroupSize(CpuGemvFormat format) { return format == CpuGemvFormat::kNvfp4 ? 16 : 128; }

double CpuGemvBitsPerWeight(CpuGemvFormat format) {
  switch (format) {
    case CpuGemvFormat::kInt4Asym: return 4.0 + (16.0 + 4.0) / 128.0;
    case CpuGemvFormat::kNvfp4: return 4.0 + 8.0 / 16.0;
    case CpuGemvFormat::kRazerFp4: return 4.0 + (16.0 + 2.0) / 128.0;
    case CpuGemvFormat::kInt8Asym: return 8.0 + (16.0 + 8.0) / 128.0;
    case CpuGemvFormat::kE2m1: return 4.0 + 16.0 / 128.0;
  }
  return 0.0;
}

int64_t CpuGemvWeightBytes(CpuGemvFormat format, int64_t n, int64_t k) {
  const int64_t groups = k / kGroup;
  switch (format) {
    case CpuGemvFormat::kInt4Asym: return n * k / 2 + n * groups * 2 + n * CeilDiv(groups, 8) * 4;
    case CpuGemvFormat::kNvfp4: return n * k / 2 + n * (k / 16) + 4;
    case CpuGemvFormat::kRazerFp4: return n * k / 2 + n * groups * 2 + n * CeilDiv(groups, 16) * 4;
    case CpuGemvFormat::kInt8Asym: return n * k + n * groups * 3;
    case CpuGemvFormat::kE2m1: return n * k / 2 + n * groups * 2;
  }
  return 0;
}

const char* CpuIsaName(CpuIsa isa) {
  switch (isa) {
    case CpuIsa::kPortable: return "portable";
    case CpuIsa::kAvx2: return "avx2";
    case CpuIsa::kAvx512: return "avx512";
    case CpuIsa::kAvx512Vnni: return "avx512_vnni";
  }
  return "unknown";
}

std::optional<CpuIsa> ParseCpuIsa(std::string_view name) {
  for (CpuIsa isa : kAllCpuIsas) {
    if (name == CpuIsaName(isa)) return isa;
  }
  return std::nullopt;
}

namespace {

// What this CPU can run, asked once: CPUID traps to the hypervisor in a VM (tens of
// microseconds), and CpuGemv checks its path on every call.
bool DetectCpuIsa(CpuIsa isa) {
  if (isa == CpuIsa::kPortable) return true;
#if defined(QLAB_CPU_GEMV_X86)
  __builtin_cpu_init();
  const bool avx2 = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") && CpuHasF16c();
  const bool avx512 = avx2 && __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
                      __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512dq");
  switch (isa) {
    case CpuIsa::kAvx2: return avx2;
    case CpuIsa::kAvx512: return avx512;
    case CpuIsa::kAvx512Vnni: return avx512 && __builtin_cpu_supports("avx512vnni");
    default: return false;
  }
#else
  return false;
#endif
}

}  // namespace

bool CpuIsaSupported(CpuIsa isa) {
  static const auto* supported = [] {
    auto* s = new std::array<bool, std::size(kAllCpuIsas)>();
    for (size_t i = 0; i < s->size(); ++i) (*s)[i] = DetectCpuIsa(kAllCpuIsas[i]);
    return s;
  }();
  const size_t i = static_cast<size_t>(isa);
  return i < supported->size() && (*supported)[i];
}

CpuIsa BestCpuIsa() {
  CpuIsa best = CpuIsa::kPortable;
  for (CpuIsa isa : kAllCpuIsas) {
    if (CpuIsaSupported(isa)) best = isa;
  }
  return best;
}

const char* ActivationModeName(ActivationMode mode) {
  return mode == ActivationMode::kInt8 ? "int8" : "fp32";
}

std::optional<ActivationMode> ParseActivationMode(std::string_view name) {
  if (name == "fp32") return ActivationMode::kFp32;
  if (name == "int8") return ActivationMode::kInt8;
  return std::nullopt;
}

CpuWeights CpuWeightsOf(const datatypes::PackedInt4Asym& w) {
  return {CpuGemvFormat::kInt4Asym, w.n, w.k, reinterpret_cast<const uint8_t*>(w.qweight.data()),
          w.scales_fp16.data(), w.zeros.data(), nullptr, 1.0f};
}
CpuWeights CpuWeightsOf(const datatypes::PackedNvfp4& w) {
  return {CpuGemvFormat::kNvfp4, w.n, w.k, reinterpret_cast<const uint8_t*>(w.qweight.data()),
          nullptr, nullptr, w.block_scales.data(), w.tensor_scale};
}
CpuWeights CpuWeightsOf(const datatypes::PackedRazerW4& w) {
  return {CpuGemvFormat::kRazerFp4, w.n, w.k, reinterpret_cast<const uint8_t*>(w.qweight.data()),
          w.scales_fp16.data(), w.selectors.data(), nullptr, 1.0f};
}
CpuWeights CpuWeightsOf(const datatypes::PackedInt8Asym& w) {
  return {CpuGemvFormat::kInt8Asym, w.n, w.k, w.qweight.data(), w.scales_fp16.data(), nullptr,
          w.zeros.data(), 1.0f};
}
CpuWeights CpuWeightsOf(const datatypes::PackedE2m1& w) {
  return {CpuGemvFormat::kE2m1, w.n, w.k, reinterpret_cast<const uint8_t*>(w.qweight.data()),
          w.scales_fp16.data(), nullptr, nullptr, 1.0f};
}

Status ValidateCpuGemv(const CpuWeights& w, int m) {
  // Built only on refusal: this runs on every call of a kernel that can take microseconds.
  auto where = [&] {
    return std::string(CpuGemvFormatName(w.format)) + " CPU GEMV (m=" + std::to_string(m) +
           " n=" + std::to_string(w.n) + " k=" + std::to_string(w.k) + ")";
  };
  if (m < 1 || m > kMaxCpuGemvBatch) {
    return Status::InvalidArgument(where() + ": batch m must be in [1, 8]");
  }
  if (w.n < 1 || w.n > (int64_t{1} << 24)) {
    return Status::InvalidArgument(where() + ": n must be in [1, 2^24]");
  }
  if (w.k < kGroup || w.k % kGroup != 0 || w.k > (int64_t{1} << 20)) {
    return Status::InvalidArgument(where() + ": k must be a positive multiple of 128 up to 2^20");
  }
  const bool needs_scales = w.format != CpuGemvFormat::kNvfp4;
  const bool needs_words = w.format == CpuGemvFormat::kInt4Asym || w.format == CpuGemvFormat::kRazerFp4;
  const bool needs_bytes = w.format == CpuGemvFormat::kInt8Asym || w.format == CpuGemvFormat::kNvfp4;
  if (w.qweight == nullptr || (needs_scales && w.scales_fp16 == nullptr) ||
      (needs_words && w.aux_words == nullptr) || (needs_bytes && w.aux_bytes == nullptr)) {
    return Status::InvalidArgument(where() + ": a weight buffer the format reads is missing");
  }
  return Status::Ok();
}

Status CpuGemv(const CpuWeights& w, const float* x, int m, float* y, const CpuGemvOptions& options,
               CpuGemvWorkspace* workspace) {
  RETURN_IF_ERROR(ValidateCpuGemv(w, m));
  if (!CpuIsaSupported(options.isa)) {
    return Status::FailedPrecondition(std::string("CPU GEMV: this CPU or build has no ") +
                                      CpuIsaName(options.isa) + " path");
  }
  CpuGemvWorkspace local;
  CpuGemvWorkspace& ws = workspace != nullptr ? *workspace : local;
  PrepareActivations(w.format, options.activations, x, m, w.k, ws);

  const DecodeTables& tables = Tables();
  const int mode = options.activations == ActivationMode::kInt8 ? 1 : 0;
  internal::Task t;
  t.format = static_cast<int>(w.format);
  t.int8_activations = mode == 1;
  t.m = m;
  t.n = w.n;
  t.k = w.k;
  t.groups = w.k / kGroup;
  t.y = y;
  t.qweight = w.qweight;
  t.row_bytes = IsNibbleFormat(w.format) ? w.k / 2 : w.k;
  t.scales_fp16 = w.scales_fp16;
  t.aux_words = w.aux_words;
  t.aux_words_per_row = w.format == CpuGemvFormat::kInt4Asym ? CeilDiv(t.groups, 8) : CeilDiv(t.groups, 16);
  t.aux_bytes = w.aux_bytes;
  t.tensor_scale = w.tensor_scale;
  t.xf = ws.xf.data();
  t.xq = ws.xq.data();
  t.xscale = ws.xscale.data();
  t.xsum = ws.xsum.data();
  t.xsumf = ws.xsumf.data();
  t.xcorr = ws.xcorr.data();
  t.lut_e2m1 = tables.e2m1[mode];
  t.lut_razer = &tables.razer[mode][0][0];

  t.group_begin = 0;
  t.group_end = t.groups;
  t.prefetch_bytes = std::clamp(options.prefetch_bytes, 0, 1 << 16);
  const RowsFn rows = RowsFor(options.isa);
  // At least 256 KiB of weights per thread: below that, starting a thread costs more than it saves.
  const int64_t min_rows = std::max<int64_t>(1, (int64_t{256} << 10) / std::max<int64_t>(1, t.row_bytes));
  // Batch > 1: every row reads all m activation rows, m*k*4 bytes, more than L1 holds. Tiles of
  // kTileRows rows then walk K in slices whose activations (~16 KiB) stay in L1 for the whole
  // tile; the tiling does not depend on the thread count, so neither do the results.
  const int64_t x_bytes_per_group = int64_t{m} * kGroup * (options.activations == ActivationMode::kInt8 ? 1 : 4);
  const int64_t slice = std::max<int64_t>(1, (int64_t{16} << 10) / x_bytes_per_group);
  if (m == 1 || slice >= t.groups) {
    datatypes::ParallelFor(w.n, options.threads, min_rows,
                           [&](int64_t begin, int64_t end) { rows(t, begin, end); });
    return Status::Ok();
  }
  constexpr int64_t kTileRows = 64;
  datatypes::ParallelFor(CeilDiv(w.n, kTileRows), options.threads, CeilDiv(min_rows, kTileRows),
                         [&](int64_t tile_begin, int64_t tile_end) {
                           for (int64_t tile = tile_begin; tile < tile_end; ++tile) {
                             const int64_t r0 = tile * kTileRows, r1 = std::min(w.n, r0 + kTileRows);
                             internal::Task part = t;
                             for (int64_t g = 0; g < t.groups; g += slice) {
                               part.group_begin = g;
                               part.group_end = std::min(t.groups, g + slice);
                               part.accumulate = g > 0;
                               rows(part, r0, r1);
                             }
                           }
                         });
  return Status::Ok();
}

std::vector<float> Int8ActivationValues(const float* x, int m, int64_t k) {
  std::vector<float> out(m * k);
  int8_t q[kGroup];
  for (int64_t blk = 0; blk < m * (k / kGroup); ++blk) {
    const float scale = QuantizeBlock(x + blk * kGroup, q);
    for (int e = 0; e < kGroup; ++e) out[blk * kGroup + e] = static_cast<float>(q[e]) * scale;
  }
  return out;
}

uint64_t CpuStreamRead(const uint8_t* p, int64_t bytes, CpuIsa isa, int threads, int prefetch_bytes) {
  std::atomic<uint64_t> checksum{0};
  constexpr int64_t kChunk = 1 << 16;
  datatypes::ParallelFor(CeilDiv(bytes, kChunk), threads, 4, [&](int64_t begin, int64_t end) {
    const uint8_t* start = p + begin * kChunk;
    const int64_t len = std::min(bytes, end * kChunk) - begin * kChunk;
    uint64_t sum = 0;
#if defined(QLAB_CPU_GEMV_X86)
    if (isa == CpuIsa::kAvx512 || isa == CpuIsa::kAvx512Vnni) {
      sum = internal::StreamReadAvx512(start, len, prefetch_bytes);
    } else if (isa == CpuIsa::kAvx2) {
      sum = internal::StreamReadAvx2(start, len, prefetch_bytes);
    } else
#endif
    {
      for (int64_t i = 0; i + 8 <= len; i += 8) {
        uint64_t v;
        __builtin_memcpy(&v, start + i, 8);
        sum += v;
      }
    }
    checksum.fetch_add(sum, std::memory_order_relaxed);
  });
  return checksum.load();
}

}  // namespace qlab::kernels
