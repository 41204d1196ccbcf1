// Reference perplexity cache (see reference_cache.h).
#include "evaluators/accuracy/reference_cache.h"

#include <sys/stat.h>

#include <filesystem>
#include <list>
#include <mutex>
#include <utility>

namespace qlab::accuracy {

std::string FileIdentity(const std::string& path) {
  std::error_code ec;
  const std::filesystem::path canonical = std::filesystem::canonical(path, ec);
  const std::string name = ec ? path : canonical.string();
  struct stat st;
  if (::stat(name.c_str(), &st) != 0) return name;
  // A folder (Hugging Face model) changes when a file in it is replaced; its shards' own
  // times are not walked: editing a tensor file in place keeps the folder's time.
  return name + "|" + std::to_string(st.st_size) + "|" + std::to_string(st.st_mtim.tv_sec) + "." +
         std::to_string(st.st_mtim.tv_nsec);
}

struct ReferenceCache::State {
  std::mutex mu;
  std::list<std::pair<std::string, PerplexityResult>> entries;  // most recently used first
  int64_t hits = 0;
};

ReferenceCache::State& ReferenceCache::state() const {
  static State* state = new State();  // never destroyed: jobs may outlive static teardown
  return *state;
}

ReferenceCache& ReferenceCache::Global() {
  static ReferenceCache cache;
  return cache;
}

std::optional<PerplexityResult> ReferenceCache::Find(const std::string& key) {
  State& s = state();
  std::lock_guard<std::mutex> lock(s.mu);
  for (auto it = s.entries.begin(); it != s.entries.end(); ++it) {
    if (it->first != key) continue;
    s.entries.splice(s.entries.begin(), s.entries, it);
    ++s.hits;
    return s.entries.front().second;
  }
  return std::nullopt;
}

void ReferenceCache::Insert(const std::string& key, const PerplexityResult& result) {
  State& s = state();
  std::lock_guard<std::mutex> lock(s.mu);
  for (auto it = s.entries.begin(); it != s.entries.end(); ++it) {
    if (it->first == key) {
      s.entries.erase(it);
      break;
    }
  }
  s.entries.emplace_front(key, result);
  while (s.entries.size() > kMaxEntries) s.entries.pop_back();
}

int64_t ReferenceCache::hits() const {
  State& s = state();
  std::lock_guard<std::mutex> lock(s.mu);
  return s.hits;
}

}  // namespace qlab::accuracy
