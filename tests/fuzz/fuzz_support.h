// Helpers shared by the libFuzzer targets of tests/fuzz: a per-process scratch directory for
// parsers that read files, and an invariant check that aborts (libFuzzer records the input).
#pragma once

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

namespace qlab::fuzz {

// Inputs longer than this are ignored even when libFuzzer runs without -max_len (as when it
// replays a corpus): each target bounds its own work.
inline constexpr size_t kMaxInputBytes = 64 * 1024;

// A directory under $TMPDIR (or /tmp) created on first use and removed when the process exits.
// The targets write their files only here.
inline const std::filesystem::path& ScratchDir() {
  static const std::filesystem::path* dir = [] {
    std::string tmpl = (std::filesystem::temp_directory_path() / "qlab-fuzz-XXXXXX").string();
    if (::mkdtemp(tmpl.data()) == nullptr) {
      std::perror("mkdtemp");
      std::abort();
    }
    auto* path = new std::filesystem::path(tmpl);
    std::atexit([] {
      std::error_code ec;
      std::filesystem::remove_all(ScratchDir(), ec);
    });
    return path;
  }();
  return *dir;
}

// Writes `size` bytes to `path` (truncating). Aborts when the write fails: a full disk is not a
// finding of the parser under test.
inline void WriteFile(const std::filesystem::path& path, const void* data, size_t size) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(static_cast<const char*>(data), static_cast<std::streamsize>(size));
  out.close();
  if (!out) {
    std::fprintf(stderr, "cannot write %s\n", path.c_str());
    std::abort();
  }
}

}  // namespace qlab::fuzz

// Aborts with a message when an invariant of the parser under test does not hold.
#define QLAB_FUZZ_CHECK(cond, what)                                                         \
  do {                                                                                      \
    if (!(cond)) {                                                                          \
      std::fprintf(stderr, "invariant failed: %s (%s:%d): %s\n", #cond, __FILE__, __LINE__, \
                   std::string(what).c_str());                                              \
      std::abort();                                                                         \
    }                                                                                       \
  } while (0)
