// A straightforward LibTorch tensor-ops implementation of the qlab group quantizer (same scale
// rules, rounding, selection and metrics), used by quantize_throughput as the baseline measured
// in the same run. Only torch_reference.cc includes LibTorch; without it (QLAB_WITH_TORCH off)
// TorchReferenceAvailable() is false.
#pragma once

#include <cstdint>

#include "common/status.h"
#include "evaluators/datatypes/quantizer.h"

namespace qlab::bench {

struct TorchReferenceResult {
  double mse = 0, sqnr_db = 0, max_abs_err = 0, kl = 0, bit_sparsity = 0;
};

bool TorchReferenceAvailable();

// Sets LibTorch's intra-op thread count.
void SetTorchThreads(int threads);

// Encode + decode + metrics of w ([rows, cols]) with the quantizer's datatype and group size.
// UNIMPLEMENTED without LibTorch.
StatusOr<TorchReferenceResult> TorchQuantize(const datatypes::Quantizer& quantizer,
                                             const float* w, int64_t rows, int64_t cols);

}  // namespace qlab::bench
