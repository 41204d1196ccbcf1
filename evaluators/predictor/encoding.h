// Architecture encodings: the predictor's input features of one NB201 cell or FBNet network.
//
//   onehot        NB201: 6 edges x 5 operations (edge-major, NAS-Bench-201 operation order);
//                 FBNet: 22 layers x 9 blocks (layer-major, HW-NAS-Bench PRIMITIVES order).
//   flops         ln(FLOPs) and ln(params) of the whole network (nas_cost.h; NB201 on cifar10,
//                 FBNet on cifar100: other datasets scale both nearly uniformly).
//   onehot_flops  onehot, then the two flops features.
// Features are raw; the model standardizes each column over its training rows.
#pragma once

#include <string_view>
#include <vector>

#include "common/status.h"
#include "evaluators/predictor/dataset.h"
#include "evaluators/predictor/predictor_params.h"

namespace qlab::predictor {

int EncodingWidth(Space space, Encoding encoding);

// Appends EncodingWidth() features of `arch_key` ("nb201:<index>" or "fbnet:<codes>") to *out.
// INVALID_ARGUMENT for a key of another space or a malformed one.
Status EncodeArch(Space space, Encoding encoding, std::string_view arch_key,
                  std::vector<float>* out);

// Rows of one domain: EncodingWidth() features per row, row-major, and their latencies.
struct EncodedRows {
  std::vector<float> features;
  std::vector<double> latency_us;
};

// Encodes every sample. Errors: those of EncodeArch.
StatusOr<EncodedRows> EncodeSamples(Space space, Encoding encoding,
                                    const std::vector<Sample>& samples);

// Multiply-accumulates of the whole network (the `flops` feature before the logarithm).
StatusOr<double> ArchFlops(Space space, std::string_view arch_key);

}  // namespace qlab::predictor
