// The unquantized reference pass of accuracy jobs, kept between jobs.
//
// Every accuracy job compares its quantized model with the same model unquantized on the same
// windows; a sweep or a study over formats would recompute that identical reference in each
// job, half of its time. The reference depends only on the model file, the evaluation tokens and
// how the windows are scored (context, stride, token limit, dtype, device, batch, threads) and on
// this build, so a key built from those (files by path, size and modification time, the build
// as this executable's identity) finds it. A changed file or a rebuilt binary has a new key.
//
// Entries live in memory for the process and, when a directory is set (SetDirectory; the worker's
// --cache-dir), in one small JSON file each, so a restarted worker — or a process per job —
// finds them too. Files are written atomically; one that is unreadable, too large or names
// another key is ignored. Thread-safe.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "evaluators/accuracy/perplexity.h"

namespace qlab::accuracy {

// Identity of a file for the cache: canonical path, size and modification time, or its path
// alone when it cannot be read (the job then fails on its own terms).
std::string FileIdentity(const std::string& path);

// The running executable's identity (FileIdentity of /proc/self/exe): the "build" of a key.
const std::string& BuildIdentity();

class ReferenceCache {
 public:
  // The process-wide cache (bounded: the least recently used of kMaxEntries goes first).
  static ReferenceCache& Global();
  static constexpr size_t kMaxEntries = 16;
  // A cache file larger than this is not read (a reference holds one double per window).
  static constexpr int64_t kMaxFileBytes = int64_t{64} << 20;

  // Also keep entries as files under `directory` (created when missing); "" = memory only.
  void SetDirectory(const std::string& directory);

  std::optional<PerplexityResult> Find(const std::string& key);
  void Insert(const std::string& key, const PerplexityResult& result);

  // Lookups that found an entry (in memory or on disk), since the process started.
  int64_t hits() const;
  // Forgets the in-memory entries (tests: a fresh process).
  void ClearMemory();

 private:
  struct State;
  State& state() const;
};

}  // namespace qlab::accuracy
