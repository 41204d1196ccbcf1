// The unquantized reference pass of accuracy jobs, kept between jobs of one process.
//
// Every accuracy job compares its quantized model with the same model unquantized on the same
// windows; a sweep or a study over formats would recompute that identical reference in each
// job, half of its time. The reference depends only on the model file, the evaluation tokens and
// how the windows are scored (context, stride, token limit, dtype, device, batch, threads) and on
// this build, so a key built from those (files by path, size and modification time) finds it.
// A changed file has a new key; a process (a new build) starts empty. Thread-safe.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "evaluators/accuracy/perplexity.h"

namespace qlab::accuracy {

// Identity of a file for the cache: canonical path, size and modification time, or its path
// alone when it cannot be read (the job then fails on its own terms).
std::string FileIdentity(const std::string& path);

class ReferenceCache {
 public:
  // The process-wide cache (bounded: the least recently used of kMaxEntries goes first).
  static ReferenceCache& Global();
  static constexpr size_t kMaxEntries = 16;

  std::optional<PerplexityResult> Find(const std::string& key);
  void Insert(const std::string& key, const PerplexityResult& result);

  // Lookups that found an entry, since the process started (tests, logs).
  int64_t hits() const;

 private:
  struct State;
  State& state() const;
};

}  // namespace qlab::accuracy
