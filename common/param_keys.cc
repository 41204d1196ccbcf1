#include "common/param_keys.h"

#include <algorithm>
#include <cctype>
#include <string>
#include <vector>

namespace qlab {
namespace {

// Case-insensitive Levenshtein distance.
int EditDistance(std::string_view a, std::string_view b) {
  std::vector<int> prev(b.size() + 1), cur(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) prev[j] = static_cast<int>(j);
  for (size_t i = 1; i <= a.size(); ++i) {
    cur[0] = static_cast<int>(i);
    for (size_t j = 1; j <= b.size(); ++j) {
      const int sub = prev[j - 1] + (std::tolower(a[i - 1]) == std::tolower(b[j - 1]) ? 0 : 1);
      cur[j] = std::min({prev[j] + 1, cur[j - 1] + 1, sub});
    }
    std::swap(prev, cur);
  }
  return prev[b.size()];
}

}  // namespace

Status CheckParamKeys(const nlohmann::json& params, std::span<const std::string_view> known,
                      std::span<const std::pair<std::string_view, std::string_view>> aliases,
                      bool reject_other_unknown, std::string_view job_kind) {
  for (auto it = params.begin(); it != params.end(); ++it) {
    const std::string& key = it.key();
    if (std::find(known.begin(), known.end(), key) != known.end()) continue;
    std::string_view suggestion;
    for (const auto& [alias, target] : aliases) {
      if (key == alias) suggestion = target;
    }
    for (std::string_view k : known) {
      if (!suggestion.empty()) break;
      if (EditDistance(key, k) <= (k.size() >= 6 ? 2 : 1)) suggestion = k;
    }
    if (!suggestion.empty()) {
      return Status::InvalidArgument("unknown field '" + key + "'; did you mean '" +
                                     std::string(suggestion) + "'?");
    }
    if (reject_other_unknown) {
      return Status::InvalidArgument("unknown field '" + key + "' for " + std::string(job_kind) +
                                     " job");
    }
  }
  return Status::Ok();
}

}  // namespace qlab
