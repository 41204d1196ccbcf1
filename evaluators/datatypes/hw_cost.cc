// Hardware-cost model (see hw_cost.h and docs/hardware-cost.md). Everything is derived from the
// decoded value set, so a new registry row gets a cost without touching this file.
#include "evaluators/datatypes/hw_cost.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <set>
#include <vector>

namespace qlab::datatypes {
namespace {

int BitsFor(int64_t v) {  // bits to hold 0..v
  int b = 0;
  while ((int64_t{1} << b) <= v) ++b;
  return b;
}

struct ValueShape {
  // Float view: significand bits needed (hidden bit incl.) and exponent range.
  bool dyadic = true;  // every magnitude is M * 2^E with M < 2^12
  int sig_bits = 0;
  int exp_bits = 0;
  // Integer view after one common rescaling (0: none with magnitudes below 2^12).
  int int_bits = 0;
  bool symmetric = true;
};

ValueShape Analyse(const std::vector<double>& values) {
  ValueShape s;
  std::set<double> mags, set(values.begin(), values.end());
  for (double v : values) {
    if (v != 0) mags.insert(std::fabs(v));
    if (v != 0 && !set.count(-v)) s.symmetric = false;
  }
  if (mags.empty()) return s;
  int min_lead = std::numeric_limits<int>::max(), max_lead = std::numeric_limits<int>::min();
  for (double m : mags) {
    int lead;
    std::frexp(m, &lead);
    lead -= 1;  // floor(log2 m)
    min_lead = std::min(min_lead, lead);
    max_lead = std::max(max_lead, lead);
    // Fraction bits below the leading one.
    double f = std::ldexp(m, -lead);  // in [1, 2)
    int frac = 0;
    while (f != std::floor(f) && frac < 30) {
      f *= 2;
      ++frac;
    }
    if (frac > 11) s.dyadic = false;
    s.sig_bits = std::max(s.sig_bits, frac + 1);
  }
  s.exp_bits = BitsFor(max_lead - min_lead);
  if (!s.dyadic) s.sig_bits = 11;  // table of FP16 values
  // Integer view: magnitudes / (min / k) all integers for some k <= 64.
  const double min_mag = *mags.begin();
  for (int k = 1; k <= 64 && s.int_bits == 0; ++k) {
    const double unit = min_mag / k;
    bool ok = true;
    double max_int = 0;
    for (double m : mags) {
      const double q = m / unit;
      if (std::fabs(q - std::nearbyint(q)) > 1e-6 * q || q > 4095) {
        ok = false;
        break;
      }
      max_int = std::max(max_int, std::nearbyint(q));
    }
    if (ok) s.int_bits = BitsFor(static_cast<int64_t>(max_int));
  }
  return s;
}

// Whether the magnitudes are exactly those of a b-bit sign-magnitude minifloat (IEEE-like
// subnormals, no Inf/NaN), so the code's fields feed the multiplier without a table.
bool IsRegularMiniFloat(const std::set<double>& mags, int magnitude_bits) {
  for (int e = 1; e <= magnitude_bits; ++e) {
    const int m = magnitude_bits - e;
    for (int bias = -8; bias <= 16; ++bias) {
      std::set<double> gen;
      for (int ef = 0; ef < (1 << e); ++ef) {
        for (int mf = 0; mf < (1 << m); ++mf) {
          gen.insert(ef == 0 ? std::ldexp(mf, 1 - bias - m)
                             : std::ldexp(1.0 + std::ldexp(mf, -m), ef - bias));
        }
      }
      if (gen == mags) return true;
    }
  }
  return false;
}

double ScaleMultiplyFae(ScaleFormat f) {
  switch (f) {
    case ScaleFormat::kNone: return 0;
    case ScaleFormat::kFp16: return 11.0 * kAccumulatorSigBits;
    case ScaleFormat::kE8M0: return 8;  // exponent add only
    case ScaleFormat::kE4M3:
    case ScaleFormat::kE3M3: return 4.0 * kAccumulatorSigBits;
  }
  return 0;
}

// Everything but the fixed part.
HardwareCost Variable(const Quantizer& q, int64_t group_size) {
  const DatatypeTraits& t = q.traits();
  HardwareCost c;
  const int bits = t.payload_bits;
  const int selectors = std::max(1, t.num_codebooks);
  std::vector<double> all;
  bool has_special = false;
  for (int s = 0; s < selectors; ++s) {
    for (uint32_t code = 0; code < q.NumCodes(); ++code) {
      if (q.IsRedundantCode(code, s)) continue;
      const double v = q.CodeValue(code, s);
      if (std::isinf(v)) continue;
      all.push_back(v);
    }
  }
  const ValueShape shape = Analyse(all);
  const double a = kActivationSigBits;
  switch (t.family) {
    case Family::kIntSym:
      c.operand_sig_bits = bits - 1;
      break;
    case Family::kIntAsym:
      c.operand_sig_bits = bits;  // q - zero spans +-(2^b - 1)
      c.zero_point_fae = bits;
      break;
    case Family::kMiniFloat:
    case Family::kPassthrough:
      c.float_operand = true;
      c.operand_sig_bits = shape.sig_bits;
      c.operand_exp_bits = shape.exp_bits;
      break;
    case Family::kGrid: {
      // A special value is a code whose value breaks the sign-magnitude symmetry (supernormal)
      // or that differs between selectors; it costs a compare and a mux unless a full LUT
      // decodes every code anyway.
      has_special = selectors > 1 || !shape.symmetric;
      // The regular part: values every selector shares, symmetric in sign (E2M1 for the RaZeR
      // family); the special values are muxed in separately.
      std::set<double> shared(all.begin(), all.end());
      for (int sel = 0; sel < selectors; ++sel) {
        std::set<double> mine;
        for (uint32_t code = 0; code < q.NumCodes(); ++code) {
          if (!q.IsRedundantCode(code, sel)) mine.insert(q.CodeValue(code, sel));
        }
        std::set<double> keep;
        for (double v : shared) {
          if (mine.count(v) && mine.count(-v)) keep.insert(v);
        }
        shared = keep;
      }
      std::set<double> regular;
      for (double v : shared) regular.insert(std::fabs(v));
      const bool regular_float = shape.dyadic && IsRegularMiniFloat(regular, bits - 1);
      const int lut_entries = shape.symmetric ? (1 << (bits - 1)) : (1 << bits);
      // Candidate 1: float operand.
      const double f_mult = a * shape.sig_bits;
      const double f_exp = shape.exp_bits + 0.5 * (a + shape.sig_bits) * shape.exp_bits;
      const double f_dec =
          regular_float ? 0 : 0.5 * (lut_entries - 1) * (shape.sig_bits - 1 + shape.exp_bits);
      // Candidate 2: integer operand through a small table.
      double i_total = std::numeric_limits<double>::infinity();
      if (shape.int_bits > 0) {
        i_total = a * shape.int_bits + 0.5 * (lut_entries - 1) * shape.int_bits;
      }
      if (f_mult + f_exp + f_dec <= i_total) {
        c.float_operand = true;
        c.operand_sig_bits = shape.sig_bits;
        c.operand_exp_bits = shape.exp_bits;
        c.lut_decoder = !regular_float;
      } else {
        c.operand_sig_bits = shape.int_bits;
        c.lut_decoder = true;
      }
      if (c.lut_decoder) {
        c.decoder_fae = 0.5 * (lut_entries - 1) *
                        (c.float_operand ? c.operand_sig_bits - 1 + c.operand_exp_bits
                                         : c.operand_sig_bits);
        if (!shape.symmetric) has_special = selectors > 1;  // the full table holds it
      }
      break;
    }
  }
  c.multiplier_fae = a * c.operand_sig_bits;
  if (c.float_operand && c.operand_exp_bits > 0) {
    c.exponent_fae = c.operand_exp_bits + 0.5 * (a + c.operand_sig_bits) * c.operand_exp_bits;
  }
  if (has_special) {
    const double operand_bits = 1 + c.operand_sig_bits + c.operand_exp_bits;
    c.special_value_fae = 0.5 * bits + 0.5 * operand_bits * selectors;  // compare, SV mux
  }
  c.scale_fae = ScaleMultiplyFae(t.scale_format) / static_cast<double>(group_size);
  c.total_fae = c.multiplier_fae + c.exponent_fae + c.decoder_fae + c.special_value_fae +
                c.zero_point_fae + c.scale_fae;
  return c;
}

struct Calibration {
  double fixed_fae;
  double e2m1_total_fae;
};

const Calibration& GetCalibration() {
  static const Calibration cal = [] {
    const Quantizer e2m1 = Quantizer::Create(Datatype::kE2M1, {}).value();
    const Quantizer sp = Quantizer::Create(Datatype::kE2M1Sp, {}).value();
    const double base = Variable(e2m1, 128).total_fae;
    const double delta = Variable(sp, 128).total_fae - base;
    // delta / (base + fixed) = kSupernormalAreaOverhead.
    const double fixed = delta / kSupernormalAreaOverhead - base;
    return Calibration{fixed, base + fixed};
  }();
  return cal;
}

}  // namespace

HardwareCost EstimateHardwareCost(const Quantizer& quantizer, int64_t group_size) {
  HardwareCost c = Variable(quantizer, group_size);
  const Calibration& cal = GetCalibration();
  c.fixed_fae = cal.fixed_fae;
  c.total_fae += c.fixed_fae;
  c.relative = c.total_fae / cal.e2m1_total_fae;
  return c;
}

}  // namespace qlab::datatypes
