// Group quantizer (see quantizer.h). Inner loops are written branch-free over the group so the
// compiler vectorises them: nearest-value search is a count of thresholds below each element,
// integer rounding is the 1.5*2^23 trick (exact round-half-even for |v| <= 2^22).
#include "evaluators/datatypes/quantizer.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <cstring>
#include <limits>
#include <numeric>
#include <string>

#include "evaluators/datatypes/minifloat.h"
#include "evaluators/datatypes/parallel.h"
#include "evaluators/datatypes/student_t.h"

namespace qlab::datatypes {
namespace {

// Round half to even for |v| <= 2^22: adding 1.5*2^23 moves v into [2^23, 2^24) where the float
// spacing is 1, so the FPU's RNE addition rounds it; the subtraction is exact. Same result as
// std::nearbyint in the default rounding mode, but vectorises without SSE4.1.
inline float RoundHalfEven(float v) {
  constexpr float kMagic = 12582912.0f;
  return (v + kMagic) - kMagic;
}
constexpr float kRoundLimit = 4194304.0f;  // 2^22

// Scratch buffers reused by every group a thread encodes.
struct Scratch {
  std::vector<float> scaled, deq;
  std::vector<int32_t> idx, best_idx;
  std::vector<uint16_t> codes, best_codes;
  void Reserve(int64_t n) {
    if (static_cast<int64_t>(scaled.size()) < n) {
      scaled.resize(n);
      deq.resize(n);
      idx.resize(n);
      best_idx.resize(n);
      codes.resize(n);
      best_codes.resize(n);
    }
  }
};
Scratch& ThreadScratch(int64_t n) {
  thread_local Scratch scratch;
  scratch.Reserve(n);
  return scratch;
}

float AbsMax(const float* x, int64_t n) {
  // Eight independent lanes: an element-wise max the compiler vectorises (a plain reduction would
  // need -ffast-math). max is exact, so the lane split does not change the result.
  float lanes[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  int64_t j = 0;
  for (; j + 8 <= n; j += 8) {
    for (int l = 0; l < 8; ++l) {
      const float a = std::fabs(x[j + l]);
      lanes[l] = a > lanes[l] ? a : lanes[l];
    }
  }
  float m = 0;
  for (; j < n; ++j) m = std::max(m, std::fabs(x[j]));
  for (float lane : lanes) m = std::max(m, lane);
  return m;
}

void MinMax(const float* x, int64_t n, float* min_out, float* max_out) {
  float lo[8], hi[8];
  for (int l = 0; l < 8; ++l) lo[l] = hi[l] = x[0];
  int64_t j = 0;
  for (; j + 8 <= n; j += 8) {
    for (int l = 0; l < 8; ++l) {
      const float v = x[j + l];
      lo[l] = v < lo[l] ? v : lo[l];
      hi[l] = v > hi[l] ? v : hi[l];
    }
  }
  float mn = x[0], mx = x[0];
  for (; j < n; ++j) {
    mn = std::min(mn, x[j]);
    mx = std::max(mx, x[j]);
  }
  for (int l = 0; l < 8; ++l) {
    mn = std::min(mn, lo[l]);
    mx = std::max(mx, hi[l]);
  }
  *min_out = mn;
  *max_out = mx;
}

// Hot loops with an AVX2 clone picked at load time (GCC/Clang function multi-versioning). Both
// clones run the same IEEE operations without FMA contraction, so results are bit-identical.
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#define QLAB_MULTIVERSION __attribute__((target_clones("avx2", "default")))
#else
#define QLAB_MULTIVERSION
#endif

// t[j] = x[j] / divisor (0 when divisor is 0), then idx[j] = number of thresholds below t[j].
QLAB_MULTIVERSION void NearestIndices(const float* x, int64_t n, float divisor,
                                      const float* thresholds, int num_thresholds, float* t,
                                      int32_t* idx) {
  if (divisor == 0) {
    for (int64_t j = 0; j < n; ++j) t[j] = 0.0f;
  } else {
    for (int64_t j = 0; j < n; ++j) t[j] = x[j] / divisor;
  }
  for (int64_t j = 0; j < n; ++j) idx[j] = 0;
  for (int i = 0; i < num_thresholds; ++i) {
    const float thr = thresholds[i];
    for (int64_t j = 0; j < n; ++j) idx[j] += t[j] > thr ? 1 : 0;
  }
}

// Squared error of decoding idx through `sorted` at scale * tensor_scale.
QLAB_MULTIVERSION double GridSquaredError(const float* x, const int32_t* idx, int64_t n,
                                          const float* sorted, float scale, float tensor_scale) {
  double err = 0;
  for (int64_t j = 0; j < n; ++j) {
    const float d = x[j] - (sorted[idx[j]] * scale) * tensor_scale;
    err += static_cast<double>(d) * d;
  }
  return err;
}

// Largest float strictly below the real number `v`.
float FloatBelow(double v) {
  float f = static_cast<float>(v);
  if (static_cast<double>(f) >= v) f = std::nextafter(f, -std::numeric_limits<float>::infinity());
  return f;
}

}  // namespace

float ClipRatio(int i) { return 1.0f - 0.025f * static_cast<float>(i); }

Quantizer::Quantizer(const DatatypeTraits* traits, const QuantizerOptions& options)
    : traits_(traits), options_(options) {}

Quantizer::Grid Quantizer::MakeGrid(const Codebook& book, int payload_bits, TieRule rule) {
  Grid g;
  const int num_codes = 1 << payload_bits;
  g.redundant = book.redundant_codes;
  struct Entry {
    float value;
    int code;
  };
  std::vector<Entry> entries;
  for (int c = 0; c < num_codes; ++c) {
    g.decode[c] = book.values[c];
    if ((book.redundant_codes >> c) & 1) continue;
    entries.push_back({book.values[c], c});
  }
  std::stable_sort(entries.begin(), entries.end(),
                   [](const Entry& a, const Entry& b) { return a.value < b.value; });
  g.num_values = static_cast<int>(entries.size());
  for (int i = 0; i < g.num_values; ++i) {
    g.sorted[i] = entries[i].value;
    g.code_of[i] = static_cast<uint8_t>(entries[i].code);
    g.max_abs = std::max(g.max_abs, std::fabs(entries[i].value));
  }
  for (int i = 0; i + 1 < g.num_values; ++i) {
    const float a = g.sorted[i], b = g.sorted[i + 1];
    const double mid = (static_cast<double>(a) + static_cast<double>(b)) / 2;
    bool tie_up;
    switch (rule) {
      case TieRule::kTowardZero: tie_up = std::fabs(b) < std::fabs(a); break;
      case TieRule::kAwayFromZero: tie_up = std::fabs(b) > std::fabs(a); break;
      case TieRule::kHalfEven: tie_up = (g.code_of[i + 1] & 1) == 0; break;
    }
    // t > threshold  <=>  t above the midpoint, or exactly on it when ties go up.
    const float mid_f = static_cast<float>(mid);
    if (static_cast<double>(mid_f) == mid) {
      g.thresholds[i] = tie_up ? FloatBelow(mid) : mid_f;
    } else {
      g.thresholds[i] = FloatBelow(mid);  // no float lies exactly on the midpoint
    }
  }
  return g;
}

StatusOr<Quantizer> Quantizer::Create(Datatype type, const QuantizerOptions& options) {
  if (static_cast<int>(type) >= kNumDatatypes) {
    return Status::InvalidArgument("datatype index out of range");
  }
  if (options.group_size < -1) {
    return Status::InvalidArgument("group_size must be >= 0 (0 = per row), got " +
                                   std::to_string(options.group_size));
  }
  if (!(options.sf4_nu > 0 && options.sf4_nu <= 1e6)) {
    return Status::InvalidArgument("sf4_nu must be in (0, 1e6]");
  }
  const DatatypeTraits& traits = GetTraits(type);
  Quantizer q(&traits, options);
  if (traits.family == Family::kGrid) {
    for (int s = 0; s < traits.num_codebooks; ++s) {
      Codebook book = traits.codebooks[s];
      if (traits.has_nu && options.sf4_nu != 5.0) {
        const std::array<float, 16> values = StudentFloatValues(options.sf4_nu);
        std::copy(values.begin(), values.end(), book.values);
      }
      q.grids_.push_back(MakeGrid(book, traits.payload_bits, traits.tie_rule));
    }
  }
  if (traits.family == Family::kMiniFloat) {
    const bool e4m3 = traits.element_format == ElementFormat::kFp8E4M3;
    q.element_max_ = e4m3 ? kE4M3Max : kE5M2Max;
    q.lut_.resize(256);
    for (int c = 0; c < 256; ++c) {
      const uint8_t b = static_cast<uint8_t>(c);
      q.lut_[c] = e4m3 ? E4M3BitsToFloat(b) : E5M2BitsToFloat(b);
    }
  }
  return q;
}

StatusOr<int64_t> Quantizer::GroupSizeFor(int64_t cols) const {
  if (cols <= 0) return Status::InvalidArgument("rows must not be empty (cols = 0)");
  if (traits_->family == Family::kPassthrough) return cols;
  int64_t g = options_.group_size < 0 ? traits_->default_group_size : options_.group_size;
  if (g == 0) g = cols;
  if (cols % g != 0) {
    return Status::InvalidArgument("group_size " + std::to_string(g) +
                                   " must divide the row length " + std::to_string(cols));
  }
  return g;
}

float Quantizer::TensorScale(float tensor_absmax) const {
  if (traits_->tensor_scale_divisor <= 0) return 1.0f;
  const float ts = tensor_absmax / traits_->tensor_scale_divisor;
  return ts > 0 ? ts : 1.0f;  // an all-zero tensor: any scale decodes to zeros
}

void Quantizer::GridScale(float absmax, const Grid& g, float tensor_scale, float* scale,
                          uint16_t* bits) const {
  const DatatypeTraits& t = *traits_;
  auto clamp = [&t](float raw) {
    if (t.scale_clamp_max > 0) raw = std::min(std::max(raw, t.scale_clamp_min), t.scale_clamp_max);
    return raw;
  };
  switch (t.scale_format) {
    case ScaleFormat::kNone:
      *bits = 0;
      *scale = 1.0f;
      return;
    case ScaleFormat::kFp16:
      *bits = ScaleToFp16Bits(clamp(absmax / g.max_abs));
      *scale = Fp16BitsToFloat(*bits);
      return;
    case ScaleFormat::kE8M0: {
      // floor(log2(absmax)) - emax(E2M1) = 2; microxcaling takes log2 of FP32_MIN_NORMAL for 0.
      int e = -126;
      if (absmax > 0) {
        std::frexp(absmax, &e);
        e -= 1;
      }
      const int exp = std::min(std::max(e - 2, -127), 127);
      *bits = static_cast<uint16_t>(exp + 127);
      *scale = std::ldexp(1.0f, exp);
      return;
    }
    case ScaleFormat::kE4M3: {
      float raw = (absmax / g.max_abs) / tensor_scale;
      if (raw == 0) raw = 1.0f;
      *bits = FloatToE4M3Bits(clamp(raw));
      *scale = E4M3BitsToFloat(static_cast<uint8_t>(*bits));
      return;
    }
    case ScaleFormat::kE3M3: {
      *bits = FloatToE3M3Bits(clamp((absmax / g.max_abs) / tensor_scale));
      *scale = E3M3BitsToFloat(static_cast<uint8_t>(*bits));
      return;
    }
  }
}

float Quantizer::CodeValue(uint32_t code, int selector) const {
  const int bits = traits_->payload_bits;
  switch (traits_->family) {
    case Family::kIntSym: {
      const int32_t q = static_cast<int32_t>(code << (32 - bits)) >> (32 - bits);
      return static_cast<float>(q);
    }
    case Family::kIntAsym: return static_cast<float>(code);
    case Family::kGrid: return grids_[selector].decode[code & 15];
    case Family::kMiniFloat: return lut_[code & 255];
    case Family::kPassthrough:
      return traits_->element_format == ElementFormat::kFp16
                 ? Fp16BitsToFloat(static_cast<uint16_t>(code))
                 : Bf16BitsToFloat(static_cast<uint16_t>(code));
  }
  return 0;
}

bool Quantizer::IsRedundantCode(uint32_t code, int selector) const {
  switch (traits_->family) {
    case Family::kIntSym: return code == (1u << (traits_->payload_bits - 1));
    case Family::kIntAsym: return false;
    case Family::kGrid: return ((grids_[selector].redundant >> code) & 1) != 0;
    case Family::kMiniFloat:  // NaN codes; E5M2's Inf too, since the cast saturates
    case Family::kPassthrough: {  // NaN codes (Inf is produced on overflow)
      const float v = CodeValue(code, selector);
      return std::isnan(v) || (traits_->family == Family::kMiniFloat && std::isinf(v));
    }
  }
  return false;
}

void Quantizer::EncodeGroup(const float* x, int64_t n, float tensor_scale, uint16_t* codes,
                            GroupParams* params) const {
  if (options_.scale_search == ScaleSearch::kNone || traits_->family == Family::kPassthrough) {
    EncodeAtRatio(x, n, tensor_scale, 1.0f, codes, params);
    return;
  }
  // Clip search: the encoders below use the thread's scaled/idx buffers, the search keeps the
  // candidate codes in its own two buffers.
  Scratch& s = ThreadScratch(n);
  double best_err = std::numeric_limits<double>::infinity();
  GroupParams best;
  uint16_t* cand = s.codes.data();
  uint16_t* kept = s.best_codes.data();
  for (int i = 0; i < kNumClipRatios; ++i) {
    GroupParams p;
    EncodeAtRatio(x, n, tensor_scale, ClipRatio(i), cand, &p);
    const double err = GroupSquaredError(x, cand, n, p, tensor_scale);
    if (err < best_err) {
      best_err = err;
      best = p;
      std::swap(cand, kept);
    }
  }
  std::memcpy(codes, kept, sizeof(uint16_t) * n);
  *params = best;
}

void Quantizer::EncodeAtRatio(const float* x, int64_t n, float tensor_scale, float ratio,
                              uint16_t* codes, GroupParams* params) const {
  switch (traits_->family) {
    case Family::kIntSym: EncodeIntSym(x, n, ratio, codes, params); return;
    case Family::kIntAsym: EncodeIntAsym(x, n, ratio, codes, params); return;
    case Family::kGrid: EncodeGrid(x, n, tensor_scale, ratio, codes, params); return;
    case Family::kMiniFloat: EncodeMiniFloat(x, n, ratio, codes, params); return;
    case Family::kPassthrough:
      *params = GroupParams{1.0f, 0, 0, 0};
      if (traits_->element_format == ElementFormat::kFp16) {
        for (int64_t j = 0; j < n; ++j) codes[j] = FloatToFp16Bits(x[j]);
      } else {
        for (int64_t j = 0; j < n; ++j) codes[j] = FloatToBf16Bits(x[j]);
      }
      return;
  }
}

void Quantizer::EncodeMiniFloat(const float* x, int64_t n, float ratio, uint16_t* codes,
                                GroupParams* params) const {
  const float absmax = AbsMax(x, n) * ratio;
  params->scale_bits = ScaleToFp16Bits(absmax / element_max_);
  const float scale = Fp16BitsToFloat(params->scale_bits);
  params->scale = scale;
  if (scale == 0) {
    std::fill(codes, codes + n, uint16_t{0});
    return;
  }
  if (traits_->element_format == ElementFormat::kFp8E4M3) {
    for (int64_t j = 0; j < n; ++j) codes[j] = FloatToE4M3Bits(x[j] / scale);
  } else {
    for (int64_t j = 0; j < n; ++j) codes[j] = FloatToE5M2Bits(x[j] / scale);
  }
}

void Quantizer::EncodeIntSym(const float* x, int64_t n, float ratio, uint16_t* codes,
                             GroupParams* params) const {
  const int bits = traits_->payload_bits;
  const float qmax = static_cast<float>((1 << (bits - 1)) - 1);
  const uint32_t mask = (1u << bits) - 1u;
  const float absmax = AbsMax(x, n) * ratio;
  params->scale_bits = ScaleToFp16Bits(absmax / qmax);
  const float scale = Fp16BitsToFloat(params->scale_bits);
  params->scale = scale;
  if (scale == 0) {
    std::fill(codes, codes + n, uint16_t{0});
    return;
  }
  for (int64_t j = 0; j < n; ++j) {
    float v = x[j] / scale;
    v = std::min(std::max(v, -qmax), qmax);
    codes[j] = static_cast<uint16_t>(static_cast<uint32_t>(static_cast<int32_t>(RoundHalfEven(v))) &
                                     mask);
  }
}

void Quantizer::EncodeIntAsym(const float* x, int64_t n, float ratio, uint16_t* codes,
                              GroupParams* params) const {
  const int bits = traits_->payload_bits;
  const float qmax = static_cast<float>((1 << bits) - 1);
  float mn, mx;
  MinMax(x, n, &mn, &mx);
  mn *= ratio;
  mx *= ratio;
  params->scale_bits = ScaleToFp16Bits(std::max(mx - mn, 1e-5f) / qmax);
  const float scale = Fp16BitsToFloat(params->scale_bits);
  params->scale = scale;
  if (scale == 0) {  // unreachable with FP16 (1e-5/255 rounds up to 2^-24), kept for safety
    params->zero = 0;
    std::fill(codes, codes + n, uint16_t{0});
    return;
  }
  const float zero = std::min(std::max(-RoundHalfEven(std::max(mn / scale, -kRoundLimit)), 0.0f),
                              qmax);
  params->zero = static_cast<uint8_t>(zero);
  for (int64_t j = 0; j < n; ++j) {
    float v = x[j] / scale;
    v = std::min(std::max(v, -kRoundLimit), kRoundLimit);
    float q = RoundHalfEven(v) + zero;
    q = std::min(std::max(q, 0.0f), qmax);
    codes[j] = static_cast<uint16_t>(q);
  }
}

void Quantizer::EncodeGrid(const float* x, int64_t n, float tensor_scale, float ratio,
                           uint16_t* codes, GroupParams* params) const {
  Scratch& s = ThreadScratch(n);
  float* t = s.scaled.data();
  const float absmax = AbsMax(x, n) * ratio;
  double best_err = std::numeric_limits<double>::infinity();
  int32_t* idx = s.idx.data();
  int32_t* best_idx = s.best_idx.data();
  const int num_grids = static_cast<int>(grids_.size());
  for (int sel = 0; sel < num_grids; ++sel) {
    const Grid& g = grids_[sel];
    uint16_t scale_bits;
    float scale;
    GridScale(absmax, g, tensor_scale, &scale, &scale_bits);
    // Index of the nearest sorted value: the number of thresholds each element lies above.
    NearestIndices(x, n, scale * tensor_scale, g.thresholds, g.num_values - 1, t, idx);
    if (num_grids > 1) {
      const double err = GridSquaredError(x, idx, n, g.sorted, scale, tensor_scale);
      if (!(err < best_err)) continue;  // the earliest selector wins ties
      best_err = err;
    }
    std::swap(idx, best_idx);
    params->scale = scale;
    params->scale_bits = scale_bits;
    params->selector = static_cast<uint8_t>(sel);
  }
  const Grid& g = grids_[params->selector];
  for (int64_t j = 0; j < n; ++j) codes[j] = g.code_of[best_idx[j]];
}

void Quantizer::DecodeGroup(const uint16_t* codes, int64_t n, const GroupParams& params,
                            float tensor_scale, float* out) const {
  const float scale = params.scale;
  switch (traits_->family) {
    case Family::kIntSym: {
      const int shift = 32 - traits_->payload_bits;
      for (int64_t j = 0; j < n; ++j) {
        const int32_t q = static_cast<int32_t>(static_cast<uint32_t>(codes[j]) << shift) >> shift;
        out[j] = static_cast<float>(q) * scale;
      }
      return;
    }
    case Family::kIntAsym: {
      const int32_t zero = params.zero;
      for (int64_t j = 0; j < n; ++j) {
        out[j] = static_cast<float>(static_cast<int32_t>(codes[j]) - zero) * scale;
      }
      return;
    }
    case Family::kGrid: {
      const float* decode = grids_[params.selector].decode;
      for (int64_t j = 0; j < n; ++j) out[j] = (decode[codes[j] & 15] * scale) * tensor_scale;
      return;
    }
    case Family::kMiniFloat: {
      const float* lut = lut_.data();
      for (int64_t j = 0; j < n; ++j) out[j] = lut[codes[j] & 255] * scale;
      return;
    }
    case Family::kPassthrough:
      if (traits_->element_format == ElementFormat::kFp16) {
        for (int64_t j = 0; j < n; ++j) out[j] = Fp16BitsToFloat(codes[j]);
      } else {
        for (int64_t j = 0; j < n; ++j) out[j] = Bf16BitsToFloat(codes[j]);
      }
      return;
  }
}

double Quantizer::GroupSquaredError(const float* x, const uint16_t* codes, int64_t n,
                                    const GroupParams& params, float tensor_scale) const {
  Scratch& s = ThreadScratch(n);
  DecodeGroup(codes, n, params, tensor_scale, s.deq.data());
  double err = 0;
  for (int64_t j = 0; j < n; ++j) {
    const float d = x[j] - s.deq[j];
    err += static_cast<double>(d) * d;
  }
  return err;
}

FiniteScan ScanFinite(const float* w, int64_t n) {
  // Branch-free lanes (vectorisable); the NaN/Inf split is recounted only when something is off.
  constexpr float kMax = std::numeric_limits<float>::max();
  float lanes[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  int32_t bad[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  int64_t j = 0;
  for (; j + 8 <= n; j += 8) {
    for (int l = 0; l < 8; ++l) {
      const float a = std::fabs(w[j + l]);
      const bool finite = a <= kMax;
      const float m = finite ? a : 0.0f;
      lanes[l] = m > lanes[l] ? m : lanes[l];
      bad[l] += finite ? 0 : 1;
    }
    if (((j >> 3) & 0xFFFFF) == 0xFFFFF) {  // keep int32 lane counters far from overflow
      for (int l = 0; l < 8; ++l) bad[l] = bad[l] != 0 ? 1 : 0;
    }
  }
  FiniteScan scan;
  bool any_bad = false;
  for (int l = 0; l < 8; ++l) {
    scan.absmax = std::max(scan.absmax, lanes[l]);
    any_bad |= bad[l] != 0;
  }
  for (; j < n; ++j) {
    const float a = std::fabs(w[j]);
    if (a <= kMax) {
      scan.absmax = std::max(scan.absmax, a);
    } else {
      any_bad = true;
    }
  }
  if (any_bad) {
    for (int64_t k = 0; k < n; ++k) {
      if (std::isnan(w[k])) ++scan.nan_count;
      if (std::isinf(w[k])) ++scan.inf_count;
    }
  }
  return scan;
}

StatusOr<QuantizedTensor> QuantizeTensor(const Quantizer& quantizer, const float* w, int64_t rows,
                                         int64_t cols, int num_threads) {
  if (rows <= 0 || cols <= 0) {
    return Status::InvalidArgument("empty tensor [" + std::to_string(rows) + ", " +
                                   std::to_string(cols) + "]");
  }
  ASSIGN_OR_RETURN(const int64_t group_size, quantizer.GroupSizeFor(cols));
  const FiniteScan scan = ScanFinite(w, rows * cols);
  if (scan.nan_count + scan.inf_count > 0) {
    return Status::InvalidArgument("tensor has " + std::to_string(scan.nan_count) + " NaN and " +
                                   std::to_string(scan.inf_count) + " Inf values");
  }
  QuantizedTensor out;
  out.datatype = quantizer.traits().type;
  out.rows = rows;
  out.cols = cols;
  out.group_size = group_size;
  out.tensor_scale = quantizer.TensorScale(scan.absmax);
  out.codes.resize(rows * cols);
  const int64_t groups_per_row = cols / group_size;
  out.groups.resize(rows * groups_per_row);
  ParallelFor(rows, num_threads, std::max<int64_t>(1, 16384 / cols), [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; ++r) {
      for (int64_t gi = 0; gi < groups_per_row; ++gi) {
        const int64_t offset = r * cols + gi * group_size;
        quantizer.EncodeGroup(w + offset, group_size, out.tensor_scale, &out.codes[offset],
                              &out.groups[r * groups_per_row + gi]);
      }
    }
  });
  return out;
}

std::vector<float> DequantizeTensor(const Quantizer& quantizer, const QuantizedTensor& tensor,
                                    int num_threads) {
  std::vector<float> out(tensor.rows * tensor.cols);
  const int64_t groups_per_row = tensor.cols / tensor.group_size;
  ParallelFor(tensor.rows, num_threads, std::max<int64_t>(1, 16384 / tensor.cols),
              [&](int64_t r0, int64_t r1) {
                for (int64_t r = r0; r < r1; ++r) {
                  for (int64_t gi = 0; gi < groups_per_row; ++gi) {
                    const int64_t offset = r * tensor.cols + gi * tensor.group_size;
                    quantizer.DecodeGroup(&tensor.codes[offset], tensor.group_size,
                                          tensor.groups[r * groups_per_row + gi],
                                          tensor.tensor_scale, &out[offset]);
                  }
                }
              });
  return out;
}

}  // namespace qlab::datatypes
