// SentencePiece wrapper and token files (see tokenizer.h).
//
// Why dlopen: Debian's libsentencepiece.so.0 embeds its own copy of protobuf-lite and exports
// those symbols. Linked into a process that also loads libprotobuf.so (LibTorch, gRPC), the
// dynamic linker binds libprotobuf's own calls to SentencePiece's copy whenever SentencePiece
// comes first in the global symbol scope, and the process crashes in libprotobuf's static
// initialisers before main(); the other way round, SentencePiece's calls into its protobuf go
// through the PLT and reach libprotobuf 3.21, whose version check aborts. Loading SentencePiece
// behind a small C shim (sentencepiece_shim.cc, libqlab_sentencepiece.so) with RTLD_LOCAL
// (its symbols stay out of the global scope) and RTLD_DEEPBIND (its own lookups prefer its own
// copy) keeps the two protobufs apart whatever the executable links and in which order.
#include "evaluators/accuracy/tokenizer.h"

#include <dlfcn.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <mutex>
#include <sstream>

namespace qlab::accuracy {
namespace {

struct ShimApi {
  void* (*load)(const char*, char*, size_t) = nullptr;
  void (*free_handle)(void*) = nullptr;
  int (*info)(void*, int) = nullptr;
  int (*encode)(void*, const char*, size_t, int32_t**, size_t*, char*, size_t) = nullptr;
  int (*decode)(void*, const int32_t*, size_t, char**, size_t*, char*, size_t) = nullptr;
};

constexpr char kShimName[] = "libqlab_sentencepiece.so";

std::string ExecutableDir() {
  char buf[4096];
  const ssize_t n = ::readlink("/proc/self/exe", buf, sizeof(buf) - 1);
  if (n <= 0) return "";
  std::string path(buf, static_cast<size_t>(n));
  return path.substr(0, path.rfind('/') + 1);
}

// Loads the shim once per process: $QLAB_SENTENCEPIECE_SHIM, the build tree's copy, the
// executable's directory, then the library search path.
StatusOr<const ShimApi*> Shim() {
  static std::once_flag once;
  static ShimApi api;
  static std::string error;
  std::call_once(once, [] {
    std::vector<std::string> candidates;
    if (const char* env = std::getenv("QLAB_SENTENCEPIECE_SHIM"); env != nullptr && *env) {
      candidates.push_back(env);
    }
#ifdef QLAB_SENTENCEPIECE_SHIM_PATH
    candidates.push_back(QLAB_SENTENCEPIECE_SHIM_PATH);
#endif
    candidates.push_back(ExecutableDir() + kShimName);
    candidates.push_back(kShimName);
    void* lib = nullptr;
    for (const std::string& path : candidates) {
      lib = ::dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL | RTLD_DEEPBIND);
      if (lib != nullptr) break;
      error += std::string(error.empty() ? "" : "; ") + ::dlerror();
    }
    if (lib == nullptr) return;
    api.load = reinterpret_cast<decltype(api.load)>(::dlsym(lib, "qlab_spm_load"));
    api.free_handle = reinterpret_cast<decltype(api.free_handle)>(::dlsym(lib, "qlab_spm_free"));
    api.info = reinterpret_cast<decltype(api.info)>(::dlsym(lib, "qlab_spm_info"));
    api.encode = reinterpret_cast<decltype(api.encode)>(::dlsym(lib, "qlab_spm_encode"));
    api.decode = reinterpret_cast<decltype(api.decode)>(::dlsym(lib, "qlab_spm_decode"));
    if (!api.load || !api.free_handle || !api.info || !api.encode || !api.decode) {
      api = ShimApi();
      error = "libqlab_sentencepiece.so lacks the qlab_spm_* functions";
    }
  });
  if (api.load == nullptr) {
    return Status::FailedPrecondition("SentencePiece is unavailable (" + error +
                                      "); build target qlab_sentencepiece or set "
                                      "QLAB_SENTENCEPIECE_SHIM");
  }
  return &api;
}

}  // namespace

struct Tokenizer::Impl {
  const ShimApi* api = nullptr;
  void* handle = nullptr;
  ~Impl() {
    if (handle != nullptr) api->free_handle(handle);
  }
};

Tokenizer::Tokenizer() : impl_(std::make_unique<Impl>()) {}
Tokenizer::~Tokenizer() = default;

StatusOr<std::unique_ptr<Tokenizer>> Tokenizer::Load(const std::string& path) {
  {
    std::ifstream probe(path, std::ios::binary);
    if (!probe) return Status::NotFound("cannot open tokenizer '" + path + "'");
  }
  ASSIGN_OR_RETURN(const ShimApi* api, Shim());
  std::unique_ptr<Tokenizer> t(new Tokenizer());
  char err[512] = "";
  t->impl_->api = api;
  t->impl_->handle = api->load(path.c_str(), err, sizeof(err));
  if (t->impl_->handle == nullptr) {
    return Status::InvalidArgument("'" + path + "' is not a SentencePiece model: " + err);
  }
  return t;
}

int Tokenizer::vocab_size() const { return impl_->api->info(impl_->handle, 0); }
int Tokenizer::bos_id() const { return impl_->api->info(impl_->handle, 1); }
int Tokenizer::eos_id() const { return impl_->api->info(impl_->handle, 2); }

StatusOr<std::vector<int32_t>> Tokenizer::Encode(const std::string& text) const {
  int32_t* ids = nullptr;
  size_t count = 0;
  char err[512] = "";
  if (impl_->api->encode(impl_->handle, text.data(), text.size(), &ids, &count, err, sizeof(err)) !=
      0) {
    return Status::Internal(std::string("SentencePiece Encode failed: ") + err);
  }
  std::vector<int32_t> out(ids, ids + count);
  std::free(ids);
  return out;
}

StatusOr<std::string> Tokenizer::Decode(const std::vector<int32_t>& ids) const {
  char* text = nullptr;
  size_t len = 0;
  char err[512] = "";
  if (impl_->api->decode(impl_->handle, ids.data(), ids.size(), &text, &len, err, sizeof(err)) !=
      0) {
    return Status::Internal(std::string("SentencePiece Decode failed: ") + err);
  }
  std::string out(text, len);
  std::free(text);
  return out;
}

StatusOr<std::vector<int32_t>> Tokenizer::EncodeDocument(const std::string& text) const {
  std::vector<int32_t> out;
  if (bos_id() >= 0) out.push_back(bos_id());
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    ASSIGN_OR_RETURN(std::vector<int32_t> ids, Encode(line));
    out.insert(out.end(), ids.begin(), ids.end());
  }
  return out;
}

StatusOr<std::string> ReadFileToString(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Status::NotFound("cannot open '" + path + "': " + std::strerror(errno));
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

StatusOr<std::vector<int32_t>> ReadTokenFile(const std::string& path) {
  ASSIGN_OR_RETURN(std::string bytes, ReadFileToString(path));
  if (bytes.empty() || bytes.size() % 4 != 0) {
    return Status::InvalidArgument("token file '" + path + "' has " + std::to_string(bytes.size()) +
                                   " bytes; expected a non-empty multiple of 4 (int32 ids)");
  }
  std::vector<int32_t> tokens(bytes.size() / 4);
  std::memcpy(tokens.data(), bytes.data(), bytes.size());  // little-endian host (x86, arm64)
  return tokens;
}

Status WriteTokenFile(const std::string& path, const std::vector<int32_t>& tokens) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(reinterpret_cast<const char*>(tokens.data()),
            static_cast<std::streamsize>(tokens.size() * sizeof(int32_t)));
  out.close();
  if (!out) return Status::Internal("cannot write token file '" + path + "'");
  return Status::Ok();
}

}  // namespace qlab::accuracy
