// Stand-in for torch_reference.cc when LibTorch is not available.
#include "bench/quantize/torch_reference.h"

namespace qlab::bench {

bool TorchReferenceAvailable() { return false; }
void SetTorchThreads(int) {}
StatusOr<TorchReferenceResult> TorchQuantize(const datatypes::Quantizer&, const float*, int64_t,
                                             int64_t) {
  return Status::Unimplemented("built without LibTorch (QLAB_WITH_TORCH=OFF)");
}

}  // namespace qlab::bench
