// A C interface to libsentencepiece, built as a dlopen()-only module (see tokenizer.cc for
// why). Nothing of SentencePiece's C++ API or its bundled protobuf crosses this boundary:
// only ints, char buffers and malloc'd arrays that the caller frees with free().
#include <sentencepiece_processor.h>

#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

namespace {

void CopyError(const std::string& message, char* err, size_t err_len) {
  if (err == nullptr || err_len == 0) return;
  std::strncpy(err, message.c_str(), err_len - 1);
  err[err_len - 1] = '\0';
}

}  // namespace

extern "C" {

// Returns a processor handle, or nullptr with the reason in err.
__attribute__((visibility("default"))) void* qlab_spm_load(const char* path, char* err,
                                                           size_t err_len) {
  auto* processor = new (std::nothrow) sentencepiece::SentencePieceProcessor();
  if (processor == nullptr) return nullptr;
  const auto status = processor->Load(path);
  if (!status.ok()) {
    CopyError(status.ToString(), err, err_len);
    delete processor;
    return nullptr;
  }
  return processor;
}

__attribute__((visibility("default"))) void qlab_spm_free(void* handle) {
  delete static_cast<sentencepiece::SentencePieceProcessor*>(handle);
}

// 0: piece count, 1: bos id, 2: eos id, 3: unk id.
__attribute__((visibility("default"))) int qlab_spm_info(void* handle, int what) {
  auto* p = static_cast<sentencepiece::SentencePieceProcessor*>(handle);
  switch (what) {
    case 0:
      return p->GetPieceSize();
    case 1:
      return p->bos_id();
    case 2:
      return p->eos_id();
    case 3:
      return p->unk_id();
    default:
      return -1;
  }
}

// Encodes text[0..len) into a malloc'd array *ids of *count ids. Returns 0, or -1 with err.
__attribute__((visibility("default"))) int qlab_spm_encode(void* handle, const char* text,
                                                           size_t len, int32_t** ids, size_t* count,
                                                           char* err, size_t err_len) {
  auto* p = static_cast<sentencepiece::SentencePieceProcessor*>(handle);
  std::vector<int> out;
  const auto status = p->Encode(absl::string_view(text, len), &out);
  if (!status.ok()) {
    CopyError(status.ToString(), err, err_len);
    return -1;
  }
  *count = out.size();
  *ids = static_cast<int32_t*>(std::malloc(sizeof(int32_t) * (out.size() + 1)));
  if (*ids == nullptr) {
    CopyError("out of memory", err, err_len);
    return -1;
  }
  for (size_t i = 0; i < out.size(); ++i) (*ids)[i] = out[i];
  return 0;
}

// Decodes ids into a malloc'd NUL-terminated *text of *len bytes. Returns 0, or -1 with err.
__attribute__((visibility("default"))) int qlab_spm_decode(void* handle, const int32_t* ids,
                                                           size_t count, char** text, size_t* len,
                                                           char* err, size_t err_len) {
  auto* p = static_cast<sentencepiece::SentencePieceProcessor*>(handle);
  const std::vector<int> in(ids, ids + count);
  std::string out;
  const auto status = p->Decode(in, &out);
  if (!status.ok()) {
    CopyError(status.ToString(), err, err_len);
    return -1;
  }
  *len = out.size();
  *text = static_cast<char*>(std::malloc(out.size() + 1));
  if (*text == nullptr) {
    CopyError("out of memory", err, err_len);
    return -1;
  }
  std::memcpy(*text, out.data(), out.size() + 1);
  return 0;
}

}  // extern "C"
