#include "common/param_keys.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdio>
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

namespace {

Status OutOfRange(const std::string& key, const std::string& what, const nlohmann::json& got) {
  return Status::InvalidArgument(key + ": must be " + what + ", got " + got.dump());
}

}  // namespace

Status ReadIntValue(const nlohmann::json& value, const std::string& name, int64_t lo, int64_t hi,
                    int64_t* out) {
  const std::string range =
      "an integer in [" + std::to_string(lo) + ", " + std::to_string(hi) + "]";
  int64_t v = 0;
  if (value.is_number_unsigned()) {
    if (value.get<uint64_t>() > static_cast<uint64_t>(hi)) return OutOfRange(name, range, value);
    v = static_cast<int64_t>(value.get<uint64_t>());
  } else if (value.is_number_integer()) {
    v = value.get<int64_t>();
  } else if (value.is_number_float() && std::floor(value.get<double>()) == value.get<double>() &&
             std::fabs(value.get<double>()) < 9.0e15) {
    v = static_cast<int64_t>(value.get<double>());
  } else {
    return OutOfRange(name, "an integer", value);
  }
  if (v < lo || v > hi) return OutOfRange(name, range, value);
  *out = v;
  return Status::Ok();
}

Status ReadIntParam(const nlohmann::json& params, const char* key, int64_t lo, int64_t hi,
                    int64_t* out) {
  auto it = params.find(key);
  if (it == params.end() || it->is_null()) return Status::Ok();
  return ReadIntValue(*it, key, lo, hi, out);
}

Status ReadIntParam(const nlohmann::json& params, const char* key, int64_t lo, int64_t hi,
                    int* out) {
  int64_t v = *out;
  RETURN_IF_ERROR(ReadIntParam(params, key, lo, hi, &v));
  *out = static_cast<int>(v);
  return Status::Ok();
}

Status ReadNumberParam(const nlohmann::json& params, const char* key, double lo, double hi,
                       double* out) {
  auto it = params.find(key);
  if (it == params.end() || it->is_null()) return Status::Ok();
  if (!it->is_number()) return OutOfRange(key, "a number", *it);
  const double v = it->get<double>();
  if (!std::isfinite(v) || v < lo || v > hi) {
    char range[96];
    std::snprintf(range, sizeof range, "a number in [%g, %g]", lo, hi);
    return OutOfRange(key, range, *it);
  }
  *out = v;
  return Status::Ok();
}

Status ReadStringParam(const nlohmann::json& params, const char* key, std::string* out) {
  auto it = params.find(key);
  if (it == params.end() || it->is_null()) return Status::Ok();
  if (!it->is_string() || it->get<std::string>().empty()) {
    return OutOfRange(key, "a non-empty string", *it);
  }
  *out = it->get<std::string>();
  return Status::Ok();
}

Status ReadBoolParam(const nlohmann::json& params, const char* key, bool* out) {
  auto it = params.find(key);
  if (it == params.end() || it->is_null()) return Status::Ok();
  if (!it->is_boolean()) return OutOfRange(key, "true or false", *it);
  *out = it->get<bool>();
  return Status::Ok();
}

Status ReadStringListParam(const nlohmann::json& params, const char* key,
                           std::vector<std::string>* out) {
  auto it = params.find(key);
  if (it == params.end() || it->is_null()) return Status::Ok();
  std::vector<std::string> values;
  if (it->is_string() && !it->get<std::string>().empty()) {
    values.push_back(it->get<std::string>());
  } else if (it->is_array()) {
    for (const auto& v : *it) {
      if (!v.is_string() || v.get<std::string>().empty()) {
        return OutOfRange(key, "a non-empty string or a list of them", *it);
      }
      values.push_back(v.get<std::string>());
    }
  } else {
    return OutOfRange(key, "a non-empty string or a list of them", *it);
  }
  *out = std::move(values);
  return Status::Ok();
}

}  // namespace qlab
