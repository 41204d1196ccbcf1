// LibTorch reference quantizer (see torch_reference.h): whole-tensor ops on a [groups, g] view,
// written the way a researcher would in PyTorch (bucketize on the decision thresholds, argmin
// over candidate grids), with the scale formats emulated by tensor ops (LibTorch 1.13 has no
// float8 dtype).
#include "bench/quantize/torch_reference.h"

#include <torch/torch.h>

#include <cmath>
#include <vector>

#include "evaluators/datatypes/metrics.h"

namespace qlab::bench {
namespace {

using datatypes::DatatypeTraits;
using datatypes::ElementFormat;
using datatypes::Family;
using datatypes::Quantizer;
using datatypes::ScaleFormat;
using torch::Tensor;

Tensor ToHalfAndBack(const Tensor& x) { return x.to(torch::kHalf).to(torch::kFloat); }

// floor(log2 |x|) exactly (frexp), for x != 0.
Tensor FloorLog2(const Tensor& x) {
  auto [mantissa, exponent] = torch::frexp(x);
  return exponent.to(torch::kFloat) - 1;
}

// Round |x| to a minifloat with `man_bits` mantissa bits, smallest normal exponent `min_exp`,
// saturating at `max`; RNE (torch::round is half-to-even).
Tensor RoundMiniFloat(const Tensor& x, int man_bits, int min_exp, float max) {
  Tensor a = x.abs();
  Tensor e = FloorLog2(torch::where(a > 0, a, torch::ones_like(a))).clamp_min(min_exp);
  Tensor quantum = torch::exp2(e - man_bits);
  Tensor r = (torch::round(a / quantum) * quantum).clamp_max(max);
  return torch::where(x < 0, -r, r);
}

struct Decoded {
  Tensor deq;    // [G, g]
  Tensor codes;  // [G, g] int64, or undefined
};

Tensor GridScale(const DatatypeTraits& t, const Tensor& absmax, float max_abs, float ts) {
  auto clamp = [&t](Tensor raw) {
    return t.scale_clamp_max > 0 ? raw.clamp(t.scale_clamp_min, t.scale_clamp_max) : raw;
  };
  switch (t.scale_format) {
    case ScaleFormat::kFp16: return ToHalfAndBack(clamp(absmax / max_abs).clamp_max(65504.0f));
    case ScaleFormat::kE8M0: {
      Tensor e = torch::where(absmax > 0, FloorLog2(torch::where(absmax > 0, absmax,
                                                                 torch::ones_like(absmax))),
                              torch::full_like(absmax, -126.0f));
      return torch::exp2((e - 2).clamp(-127, 127));
    }
    case ScaleFormat::kE4M3: {
      Tensor raw = (absmax / max_abs) / ts;
      raw = torch::where(raw == 0, torch::ones_like(raw), raw);
      return RoundMiniFloat(clamp(raw), 3, -6, 448.0f);
    }
    case ScaleFormat::kE3M3: return RoundMiniFloat(clamp((absmax / max_abs) / ts), 3, -2, 30.0f);
    case ScaleFormat::kNone: break;
  }
  return torch::ones_like(absmax);
}

Decoded QuantizeGrid(const Quantizer& q, const Tensor& wg, float ts) {
  const DatatypeTraits& t = q.traits();
  const Tensor absmax = wg.abs().amax(1, true);
  std::vector<Tensor> deqs, codes, errs;
  for (int sel = 0; sel < t.num_codebooks; ++sel) {
    const Quantizer::GridView g = q.grid(sel);
    Tensor sorted = torch::from_blob(const_cast<float*>(g.sorted), {g.num_values}).clone();
    Tensor thresholds =
        torch::from_blob(const_cast<float*>(g.thresholds), {g.num_values - 1}).clone();
    std::vector<int64_t> code_of(g.code_of, g.code_of + g.num_values);
    Tensor code_table = torch::tensor(code_of, torch::kLong);
    Tensor scale = GridScale(t, absmax, g.max_abs, ts);
    Tensor divisor = scale * ts;
    Tensor tq = torch::where(divisor > 0, wg / divisor, torch::zeros_like(wg));
    Tensor idx = torch::bucketize(tq, thresholds);
    Tensor deq = sorted.index({idx}) * scale * ts;
    errs.push_back((wg - deq).pow(2).sum(1));
    deqs.push_back(deq);
    codes.push_back(code_table.index({idx}));
  }
  if (deqs.size() == 1) return {deqs[0], codes[0]};
  Tensor best = torch::stack(errs).argmin(0);  // [G], first minimum wins ties
  Tensor deq = torch::stack(deqs);             // [S, G, g]
  Tensor code = torch::stack(codes);
  Tensor index = best.view({1, -1, 1}).expand({1, deq.size(1), deq.size(2)});
  return {deq.gather(0, index).squeeze(0), code.gather(0, index).squeeze(0)};
}

Decoded QuantizeInt(const Quantizer& q, const Tensor& wg) {
  const DatatypeTraits& t = q.traits();
  const int bits = t.payload_bits;
  if (t.family == Family::kIntSym) {
    const float qmax = static_cast<float>((1 << (bits - 1)) - 1);
    Tensor s = ToHalfAndBack((wg.abs().amax(1, true) / qmax).clamp_max(65504.0f));
    Tensor v = torch::where(s > 0, wg / s, torch::zeros_like(wg));
    Tensor qv = torch::round(v).clamp(-qmax, qmax);
    return {qv * s, torch::bitwise_and(qv.to(torch::kLong), (1 << bits) - 1)};
  }
  const float qmax = static_cast<float>((1 << bits) - 1);
  Tensor mx = wg.amax(1, true), mn = wg.amin(1, true);
  Tensor s = ToHalfAndBack(((mx - mn).clamp_min(1e-5f) / qmax).clamp_max(65504.0f));
  Tensor z = (-torch::round(mn / s)).clamp(0, qmax);
  Tensor qv = (torch::round(wg / s) + z).clamp(0, qmax);
  return {(qv - z) * s, qv.to(torch::kLong)};
}

Decoded QuantizeFloat(const Quantizer& q, const Tensor& wg) {
  const DatatypeTraits& t = q.traits();
  if (t.family == Family::kPassthrough) {
    return {t.element_format == ElementFormat::kFp16 ? ToHalfAndBack(wg)
                                                     : wg.to(torch::kBFloat16).to(torch::kFloat),
            Tensor()};
  }
  const bool e4m3 = t.element_format == ElementFormat::kFp8E4M3;
  const float emax = e4m3 ? 448.0f : 57344.0f;
  Tensor s = ToHalfAndBack((wg.abs().amax(1, true) / emax).clamp_max(65504.0f));
  Tensor v = torch::where(s > 0, wg / s, torch::zeros_like(wg));
  Tensor r = e4m3 ? RoundMiniFloat(v, 3, -6, 448.0f) : RoundMiniFloat(v, 2, -14, 57344.0f);
  return {r * s, Tensor()};
}

}  // namespace

bool TorchReferenceAvailable() { return true; }

void SetTorchThreads(int threads) { torch::set_num_threads(threads); }

StatusOr<TorchReferenceResult> TorchQuantize(const Quantizer& quantizer, const float* w,
                                             int64_t rows, int64_t cols) {
  torch::NoGradGuard no_grad;
  ASSIGN_OR_RETURN(const int64_t g, quantizer.GroupSizeFor(cols));
  const DatatypeTraits& t = quantizer.traits();
  Tensor wt = torch::from_blob(const_cast<float*>(w), {rows, cols});
  Tensor wg = wt.reshape({-1, g});
  const float absmax = wt.abs().max().item<float>();
  const float ts = quantizer.TensorScale(absmax);
  Decoded d;
  switch (t.family) {
    case Family::kIntSym:
    case Family::kIntAsym: d = QuantizeInt(quantizer, wg); break;
    case Family::kGrid: d = QuantizeGrid(quantizer, wg, ts); break;
    case Family::kMiniFloat:
    case Family::kPassthrough: d = QuantizeFloat(quantizer, wg); break;
  }
  Tensor err = (wg - d.deq).to(torch::kDouble);
  TorchReferenceResult r;
  const double err_sum = err.pow(2).sum().item<double>();
  r.mse = err_sum / static_cast<double>(rows * cols);
  r.sqnr_db = datatypes::SqnrDb(wg.to(torch::kDouble).pow(2).sum().item<double>(), err_sum);
  r.max_abs_err = err.abs().max().item<double>();
  const int bins = datatypes::kKlBins;
  Tensor hp = torch::histc(wg, bins, -absmax, absmax) + datatypes::kKlSmoothing;
  Tensor hq = torch::histc(d.deq.clamp(-absmax, absmax), bins, -absmax, absmax) +
              datatypes::kKlSmoothing;
  hp = hp / hp.sum();
  hq = hq / hq.sum();
  r.kl = (hp * torch::log(hp / hq)).sum().item<double>();
  if (d.codes.defined()) {
    double zero_bits = 0;
    for (int b = 0; b < t.payload_bits; ++b) {
      zero_bits += (torch::bitwise_and(d.codes, int64_t{1} << b) == 0).sum().item<double>();
    }
    r.bit_sparsity = zero_bits / (static_cast<double>(rows * cols) * t.payload_bits);
  }
  return r;
}

}  // namespace qlab::bench
