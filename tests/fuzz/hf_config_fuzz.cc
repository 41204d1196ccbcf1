// Fuzzes the Hugging Face model-folder reader (evaluators/accuracy/checkpoint.h): the input is
// the folder's config.json; the folder also holds a small model.safetensors whose tensors fit
// the seed config (dim 8, 1 layer, vocab 16), so configs close to it get as far as the tensor
// checks. Invariant: an accepted folder's configuration validates and its tensors read whole.
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "evaluators/accuracy/checkpoint.h"
#include "tests/fuzz/fuzz_support.h"

namespace {

// A folder whose model.safetensors holds every tensor of the seed config (zeros, F32).
const std::filesystem::path& ModelDir() {
  static const std::filesystem::path dir = [] {
    const std::filesystem::path d = qlab::fuzz::ScratchDir() / "hf";
    std::filesystem::create_directories(d);
    qlab::accuracy::ModelConfig c;
    c.architecture = "LlamaForCausalLM";
    c.dim = 8, c.hidden_dim = 16, c.n_layers = 1, c.n_heads = 2, c.n_kv_heads = 1;
    c.head_dim = 4, c.vocab_size = 16, c.max_seq_len = 32, c.shared_classifier = true;
    nlohmann::ordered_json header = nlohmann::ordered_json::object();
    uint64_t offset = 0;
    for (const auto& spec : qlab::accuracy::RequiredTensors(c)) {
      const uint64_t bytes = static_cast<uint64_t>(spec.NumElements()) * 4;
      header[spec.name] = {
          {"dtype", "F32"}, {"shape", spec.shape}, {"data_offsets", {offset, offset + bytes}}};
      offset += bytes;
    }
    const std::string text = header.dump();
    std::string file(8, '\0');
    for (int i = 0; i < 8; ++i) file[i] = static_cast<char>((text.size() >> (8 * i)) & 0xff);
    file += text;
    file.append(offset, '\0');
    qlab::fuzz::WriteFile(d / "model.safetensors", file.data(), file.size());
    return d;
  }();
  return dir;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size > qlab::fuzz::kMaxInputBytes) return 0;
  const std::filesystem::path& dir = ModelDir();
  qlab::fuzz::WriteFile(dir / "config.json", data, size);
  auto ckpt = qlab::accuracy::Checkpoint::Open(dir.string());
  if (!ckpt.ok()) return 0;
  const qlab::accuracy::ModelConfig& config = (*ckpt)->config();
  QLAB_FUZZ_CHECK(qlab::accuracy::ValidateConfig(config).ok(), config.Summary());
  for (const auto& spec : qlab::accuracy::RequiredTensors(config)) {
    auto values = (*ckpt)->ReadTensor(spec);
    QLAB_FUZZ_CHECK(values.ok(), values.status().message());
    QLAB_FUZZ_CHECK(static_cast<int64_t>(values->size()) == spec.NumElements(), spec.name);
  }
  return 0;
}
