// Reference perplexity cache (see reference_cache.h).
#include "evaluators/accuracy/reference_cache.h"

#include <sys/stat.h>
#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <list>
#include <mutex>
#include <nlohmann/json.hpp>
#include <sstream>
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

const std::string& BuildIdentity() {
  static const std::string identity = FileIdentity("/proc/self/exe");
  return identity;
}

namespace {

// FNV-1a: names the file of a key (the key itself is stored inside and compared on read).
uint64_t Fnv1a(const std::string& text) {
  uint64_t h = 1469598103934665603ull;
  for (unsigned char c : text) {
    h ^= c;
    h *= 1099511628211ull;
  }
  return h;
}

std::string FileFor(const std::string& directory, const std::string& key) {
  char name[64];
  std::snprintf(name, sizeof(name), "reference-%016llx.json",
                static_cast<unsigned long long>(Fnv1a(key)));
  return (std::filesystem::path(directory) / name).string();
}

std::optional<PerplexityResult> ReadEntry(const std::string& path, const std::string& key) {
  std::error_code ec;
  const auto size = std::filesystem::file_size(path, ec);
  if (ec || size > static_cast<uintmax_t>(ReferenceCache::kMaxFileBytes)) return std::nullopt;
  std::ifstream in(path, std::ios::binary);
  std::stringstream text;
  text << in.rdbuf();
  const nlohmann::json j = nlohmann::json::parse(text.str(), nullptr, /*allow_exceptions=*/false);
  const auto stored_key = j.is_object() ? j.find("key") : j.end();
  if (stored_key == j.end() || !stored_key->is_string() || stored_key->get<std::string>() != key) {
    return std::nullopt;
  }
  const auto number = [&](const char* name) -> std::optional<double> {
    const auto it = j.find(name);
    if (it == j.end() || !it->is_number()) return std::nullopt;
    return it->get<double>();
  };
  const auto perplexity = number("perplexity"), mean_nll = number("mean_nll"),
             scored = number("scored_positions"), seconds = number("seconds"),
             tokens_per_s = number("tokens_per_s");
  const auto windows = j.find("window_nll");
  if (!perplexity || !mean_nll || !scored || !seconds || !tokens_per_s || windows == j.end() ||
      !windows->is_array()) {
    return std::nullopt;
  }
  PerplexityResult r;
  r.perplexity = *perplexity;
  r.mean_nll = *mean_nll;
  r.scored_positions = static_cast<int64_t>(*scored);
  r.seconds = *seconds;
  r.tokens_per_s = *tokens_per_s;
  r.window_nll.reserve(windows->size());
  for (const auto& v : *windows) {
    if (!v.is_number() || !std::isfinite(v.get<double>())) return std::nullopt;
    r.window_nll.push_back(v.get<double>());
  }
  return r;
}

void WriteEntry(const std::string& path, const std::string& key, const PerplexityResult& r) {
  const nlohmann::json j = {{"key", key},
                            {"perplexity", r.perplexity},
                            {"mean_nll", r.mean_nll},
                            {"scored_positions", r.scored_positions},
                            {"seconds", r.seconds},
                            {"tokens_per_s", r.tokens_per_s},
                            {"window_nll", r.window_nll}};
  // Written beside and renamed: a reader never sees half a file, two writers never mix.
  const std::string tmp = path + ".tmp" + std::to_string(::getpid());
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    out << j.dump();
    if (!out) {
      std::filesystem::remove(tmp);
      return;
    }
  }
  std::error_code ec;
  std::filesystem::rename(tmp, path, ec);
  if (ec) std::filesystem::remove(tmp, ec);
}

}  // namespace

struct ReferenceCache::State {
  std::mutex mu;
  std::list<std::pair<std::string, PerplexityResult>> entries;  // most recently used first
  std::string directory;
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

void ReferenceCache::SetDirectory(const std::string& directory) {
  State& s = state();
  std::lock_guard<std::mutex> lock(s.mu);
  s.directory = directory;
  if (!directory.empty()) {
    std::error_code ec;
    std::filesystem::create_directories(directory, ec);
  }
}

std::optional<PerplexityResult> ReferenceCache::Find(const std::string& key) {
  State& s = state();
  std::string directory;
  {
    std::lock_guard<std::mutex> lock(s.mu);
    for (auto it = s.entries.begin(); it != s.entries.end(); ++it) {
      if (it->first != key) continue;
      s.entries.splice(s.entries.begin(), s.entries, it);
      ++s.hits;
      return s.entries.front().second;
    }
    directory = s.directory;
  }
  if (directory.empty()) return std::nullopt;
  std::optional<PerplexityResult> stored = ReadEntry(FileFor(directory, key), key);
  if (!stored.has_value()) return std::nullopt;
  std::lock_guard<std::mutex> lock(s.mu);
  ++s.hits;
  s.entries.emplace_front(key, *stored);
  while (s.entries.size() > kMaxEntries) s.entries.pop_back();
  return stored;
}

void ReferenceCache::Insert(const std::string& key, const PerplexityResult& result) {
  State& s = state();
  std::string directory;
  {
    std::lock_guard<std::mutex> lock(s.mu);
    for (auto it = s.entries.begin(); it != s.entries.end(); ++it) {
      if (it->first == key) {
        s.entries.erase(it);
        break;
      }
    }
    s.entries.emplace_front(key, result);
    while (s.entries.size() > kMaxEntries) s.entries.pop_back();
    directory = s.directory;
  }
  if (!directory.empty()) WriteEntry(FileFor(directory, key), key, result);
}

int64_t ReferenceCache::hits() const {
  State& s = state();
  std::lock_guard<std::mutex> lock(s.mu);
  return s.hits;
}

void ReferenceCache::ClearMemory() {
  State& s = state();
  std::lock_guard<std::mutex> lock(s.mu);
  s.entries.clear();
}

}  // namespace qlab::accuracy
