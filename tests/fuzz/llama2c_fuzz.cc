// Fuzzes the llama2.c checkpoint reader (evaluators/accuracy/checkpoint.h) that opens the model
// file an accuracy job names: the input is the whole file (7 int32 header fields, then float32
// arrays). Invariants: an accepted file's configuration validates, and every tensor it requires
// reads with the size its shape implies.
#include <cstddef>
#include <cstdint>
#include <string>

#include "evaluators/accuracy/checkpoint.h"
#include "tests/fuzz/fuzz_support.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size > qlab::fuzz::kMaxInputBytes) return 0;
  const std::string path = (qlab::fuzz::ScratchDir() / "model.bin").string();
  qlab::fuzz::WriteFile(path, data, size);
  auto ckpt = qlab::accuracy::Checkpoint::Open(path);
  if (!ckpt.ok()) return 0;
  const qlab::accuracy::ModelConfig& config = (*ckpt)->config();
  QLAB_FUZZ_CHECK(qlab::accuracy::ValidateConfig(config).ok(), config.Summary());
  uint64_t bytes = 0;
  for (const auto& spec : qlab::accuracy::RequiredTensors(config)) {
    auto values = (*ckpt)->ReadTensor(spec);
    QLAB_FUZZ_CHECK(values.ok(), values.status().message());
    QLAB_FUZZ_CHECK(static_cast<int64_t>(values->size()) == spec.NumElements(), spec.name);
    bytes += values->size() * sizeof(float);
  }
  QLAB_FUZZ_CHECK(bytes <= size, config.Summary());
  return 0;
}
