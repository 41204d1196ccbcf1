// A simple, documented hardware-cost model: the area of one multiply-accumulate lane that takes
// a decoded low-bit weight and an FP16 activation, in full-adder equivalents (FAE), derived from
// the datatype's value set (operand width, exponent range, decoder LUT, special-value logic,
// zero point, amortised scale multiply). docs/hardware-cost.md explains every term and the one
// calibration point (the SF paper's 1.22% area for E2M1 supernormal support). Thread-safe.
#pragma once

#include <cstdint>

#include "evaluators/datatypes/quantizer.h"

namespace qlab::datatypes {

// Constants of the model (docs/hardware-cost.md).
inline constexpr int kActivationSigBits = 11;   // FP16 activation significand (hidden bit incl.)
inline constexpr int kAccumulatorSigBits = 24;  // FP32 partial sums the scale multiplies
// Reported overhead of E2M1 with supernormal support over plain E2M1 (SF, ICML'24 abstract).
inline constexpr double kSupernormalAreaOverhead = 0.0122;

struct HardwareCost {
  // How the weight reaches the multiplier.
  bool float_operand = false;  // sign/exponent/significand (else a plain integer)
  int operand_sig_bits = 0;    // significand (hidden bit incl.) or integer magnitude bits
  int operand_exp_bits = 0;    // exponent field width (0 for integers)
  bool lut_decoder = false;    // codes need a table to become the operand
  // Terms, in full-adder equivalents per lane.
  double multiplier_fae = 0;     // kActivationSigBits x operand_sig_bits array multiplier
  double exponent_fae = 0;       // exponent adder + alignment shifter of the product
  double decoder_fae = 0;        // LUT (mux tree) from code to operand
  double special_value_fae = 0;  // compare the special code, mux in the group's SV
  double zero_point_fae = 0;     // per-weight (q - zero) subtractor
  double scale_fae = 0;          // the group's scale multiply, amortised over the group
  double fixed_fae = 0;          // accumulator and registers (calibrated, same for all)
  double total_fae = 0;
  // total_fae / total_fae of e2m1 at group size 128: the `hw_cost` metric.
  double relative = 0;
};

// Estimates the lane cost of `quantizer`'s datatype (its codebooks, so sf4's nu is honoured) at
// `group_size` elements per scale. REQUIRES: group_size > 0.
HardwareCost EstimateHardwareCost(const Quantizer& quantizer, int64_t group_size);

}  // namespace qlab::datatypes
