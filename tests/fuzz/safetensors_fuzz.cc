// Fuzzes the .safetensors reader (evaluators/datatypes/safetensors.h), which opens the files a
// quantize job or a Hugging Face model folder names: the input is the whole file (8-byte header
// length, JSON header, data). Invariants: every tensor of an accepted file lies inside the data
// section, is found by name and by the glob "*", and reads as rows x cols values.
#include <cstddef>
#include <cstdint>
#include <string>

#include "evaluators/datatypes/safetensors.h"
#include "tests/fuzz/fuzz_support.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size > qlab::fuzz::kMaxInputBytes) return 0;
  const std::string path = (qlab::fuzz::ScratchDir() / "input.safetensors").string();
  qlab::fuzz::WriteFile(path, data, size);
  auto file = qlab::datatypes::SafetensorsFile::Open(path);
  if (!file.ok()) return 0;
  const auto& tensors = (*file)->tensors();
  QLAB_FUZZ_CHECK((*file)->Match("*").size() == tensors.size(), "glob '*'");
  for (const auto& t : tensors) {
    QLAB_FUZZ_CHECK(t.begin <= t.end && t.end <= size, t.name);
    QLAB_FUZZ_CHECK((*file)->Find(t.name) == &t, t.name);
    auto m = (*file)->ReadMatrix(t.name);
    if (t.dtype != "F32" && t.dtype != "F16" && t.dtype != "BF16") {
      QLAB_FUZZ_CHECK(!m.ok(), t.name + " has dtype " + t.dtype);
      continue;
    }
    QLAB_FUZZ_CHECK(m.ok(), m.status().message());
    QLAB_FUZZ_CHECK(m->rows >= 0 && m->cols >= 0, t.name);
    QLAB_FUZZ_CHECK(
        static_cast<uint64_t>(m->rows) * static_cast<uint64_t>(m->cols) == m->values.size(),
        t.name);
  }
  return 0;
}
