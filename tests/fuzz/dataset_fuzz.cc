// Fuzzes the latency-dataset reader of predictor jobs (evaluators/predictor/dataset.h): the text
// of a `qlab dataset export` file, CSV or JSON, then the domain selection and the architecture
// encodings the job applies to its rows. Invariants: every accepted row has a batch in
// [1, 2^20] and a positive finite median, whichever of the two formats it came in; an encoded
// architecture has exactly the encoding's width.
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "evaluators/predictor/dataset.h"
#include "evaluators/predictor/encoding.h"
#include "tests/fuzz/fuzz_support.h"

namespace {

using qlab::predictor::Encoding;
using qlab::predictor::Space;

// A predictor job whose target_device glob is the first row's device (the rows' text also
// exercises the glob matcher) and which takes every other device as a source.
qlab::predictor::PredictorParams Params(Space space, const std::string& target_device) {
  qlab::predictor::PredictorParams p;
  p.space = space;
  p.target_device = target_device;
  p.target_samples = 2;
  p.test_samples = 4;
  p.source_devices = {"*"};
  return p;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size > qlab::fuzz::kMaxInputBytes) return 0;
  const std::string text(reinterpret_cast<const char*>(data), size);
  auto rows = qlab::predictor::ParseDatasetExport(text);
  if (!rows.ok()) return 0;
  for (const auto& row : *rows) {
    QLAB_FUZZ_CHECK(row.batch >= 1 && row.batch <= (1 << 20),
                    row.arch_key + " batch " + std::to_string(row.batch));
    QLAB_FUZZ_CHECK(std::isfinite(row.median_us) && row.median_us > 0, row.arch_key);
  }
  if (rows->empty()) return 0;
  for (Space space : {Space::kNb201, Space::kFbnet}) {
    auto task = qlab::predictor::BuildTask(Params(space, rows->front().device), *rows);
    (void)task;
    for (size_t i = 0; i < rows->size() && i < 64; ++i) {
      for (Encoding encoding : {Encoding::kOneHot, Encoding::kOneHotFlops, Encoding::kFlops}) {
        std::vector<float> features;
        if (qlab::predictor::EncodeArch(space, encoding, (*rows)[i].arch_key, &features).ok()) {
          QLAB_FUZZ_CHECK(
              static_cast<int>(features.size()) == qlab::predictor::EncodingWidth(space, encoding),
              (*rows)[i].arch_key);
        }
      }
      (void)qlab::predictor::ArchFlops(space, (*rows)[i].arch_key);
    }
  }
  return 0;
}
