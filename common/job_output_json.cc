// Plain base64 (RFC 4648, with padding) is written here rather than taken from a library: none
// of the project's packages exposes one, and the format is a few lines.
#include "common/job_output_json.h"

#include <array>

namespace qlab {
namespace {

using nlohmann::json;

constexpr char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

bool ReadString(const json& object, const char* key, std::string* out) {
  auto it = object.find(key);
  if (it == object.end()) return true;
  if (!it->is_string()) return false;
  *out = it->get<std::string>();
  return true;
}

bool ReadNumber(const json& object, const char* key, double* out) {
  auto it = object.find(key);
  if (it == object.end()) return true;
  if (!it->is_number()) return false;
  *out = it->get<double>();
  return true;
}

Status Bad(const std::string& field) {
  return Status::InvalidArgument("evaluator output: " + field + " is malformed");
}

}  // namespace

std::string Base64Encode(std::string_view bytes) {
  std::string out;
  out.reserve((bytes.size() + 2) / 3 * 4);
  size_t i = 0;
  for (; i + 2 < bytes.size(); i += 3) {
    const uint32_t v = (uint8_t(bytes[i]) << 16) | (uint8_t(bytes[i + 1]) << 8) | uint8_t(bytes[i + 2]);
    out += kAlphabet[v >> 18];
    out += kAlphabet[(v >> 12) & 63];
    out += kAlphabet[(v >> 6) & 63];
    out += kAlphabet[v & 63];
  }
  if (i < bytes.size()) {
    uint32_t v = uint8_t(bytes[i]) << 16;
    if (i + 1 < bytes.size()) v |= uint8_t(bytes[i + 1]) << 8;
    out += kAlphabet[v >> 18];
    out += kAlphabet[(v >> 12) & 63];
    out += i + 1 < bytes.size() ? kAlphabet[(v >> 6) & 63] : '=';
    out += '=';
  }
  return out;
}

StatusOr<std::string> Base64Decode(std::string_view text) {
  std::array<int, 256> value;
  value.fill(-1);
  for (int k = 0; k < 64; ++k) value[static_cast<uint8_t>(kAlphabet[k])] = k;
  if (text.size() % 4 != 0) return Status::InvalidArgument("base64: length is not a multiple of 4");
  std::string out;
  out.reserve(text.size() / 4 * 3);
  for (size_t i = 0; i < text.size(); i += 4) {
    int v[4];
    int pad = 0;
    for (int k = 0; k < 4; ++k) {
      const char c = text[i + k];
      if (c == '=' && i + 4 == text.size() && k >= 2) {
        v[k] = 0;
        ++pad;
        continue;
      }
      if (pad > 0) return Status::InvalidArgument("base64: data after padding");
      v[k] = value[static_cast<uint8_t>(c)];
      if (v[k] < 0) return Status::InvalidArgument("base64: a character outside the alphabet");
    }
    const uint32_t bits = (v[0] << 18) | (v[1] << 12) | (v[2] << 6) | v[3];
    out += static_cast<char>(bits >> 16);
    if (pad < 2) out += static_cast<char>((bits >> 8) & 255);
    if (pad < 1) out += static_cast<char>(bits & 255);
  }
  return out;
}

json JobOutputToJson(const JobOutput& output) {
  json metrics = json::array();
  for (const Metric& m : output.metrics) {
    metrics.push_back({{"name", m.name}, {"value", m.value}, {"unit", m.unit},
                       {"stderr", m.stderr_value}, {"higher_is_better", m.higher_is_better}});
  }
  json latency = json::array();
  for (const LatencySampleSet& l : output.latency) {
    latency.push_back({{"arch_key", l.arch_key}, {"device", l.device}, {"batch", l.batch},
                       {"samples_us", l.samples_us}, {"median_us", l.median_us},
                       {"mean_us", l.mean_us}, {"p10_us", l.p10_us}, {"p90_us", l.p90_us},
                       {"min_us", l.min_us}, {"stddev_us", l.stddev_us}, {"cv", l.cv},
                       {"unstable", l.unstable}, {"context_json", l.context_json}});
  }
  json artifacts = json::array();
  for (const Artifact& a : output.artifacts) {
    artifacts.push_back({{"name", a.name}, {"media_type", a.media_type},
                         {"base64", Base64Encode(a.bytes)}});
  }
  return {{"metrics", metrics}, {"latency", latency}, {"artifacts", artifacts},
          {"context_json", output.context_json}};
}

StatusOr<JobOutput> JobOutputFromJson(const json& j) {
  if (!j.is_object()) return Bad("the document");
  JobOutput out;
  auto list = [&](const char* key) -> const json* {
    auto it = j.find(key);
    return it == j.end() ? nullptr : &*it;
  };
  if (const json* metrics = list("metrics")) {
    if (!metrics->is_array()) return Bad("metrics");
    for (const json& m : *metrics) {
      if (!m.is_object()) return Bad("metrics[]");
      Metric metric;
      auto hib = m.find("higher_is_better");
      if (!ReadString(m, "name", &metric.name) || !ReadNumber(m, "value", &metric.value) ||
          !ReadString(m, "unit", &metric.unit) || !ReadNumber(m, "stderr", &metric.stderr_value) ||
          (hib != m.end() && !hib->is_boolean())) {
        return Bad("metrics[" + std::to_string(out.metrics.size()) + "]");
      }
      metric.higher_is_better = hib != m.end() && hib->get<bool>();
      out.metrics.push_back(std::move(metric));
    }
  }
  if (const json* latency = list("latency")) {
    if (!latency->is_array()) return Bad("latency");
    for (const json& l : *latency) {
      const std::string where = "latency[" + std::to_string(out.latency.size()) + "]";
      if (!l.is_object()) return Bad(where);
      LatencySampleSet s;
      double batch = 1;
      auto samples = l.find("samples_us");
      auto unstable = l.find("unstable");
      if (!ReadString(l, "arch_key", &s.arch_key) || !ReadString(l, "device", &s.device) ||
          !ReadNumber(l, "batch", &batch) || !ReadNumber(l, "median_us", &s.median_us) ||
          !ReadNumber(l, "mean_us", &s.mean_us) || !ReadNumber(l, "p10_us", &s.p10_us) ||
          !ReadNumber(l, "p90_us", &s.p90_us) || !ReadNumber(l, "min_us", &s.min_us) ||
          !ReadNumber(l, "stddev_us", &s.stddev_us) || !ReadNumber(l, "cv", &s.cv) ||
          !ReadString(l, "context_json", &s.context_json) ||
          (unstable != l.end() && !unstable->is_boolean()) ||
          (samples != l.end() && !samples->is_array())) {
        return Bad(where);
      }
      s.batch = static_cast<int>(batch);
      s.unstable = unstable != l.end() && unstable->get<bool>();
      if (samples != l.end()) {
        for (const json& v : *samples) {
          if (!v.is_number()) return Bad(where + ".samples_us");
          s.samples_us.push_back(v.get<double>());
        }
      }
      out.latency.push_back(std::move(s));
    }
  }
  if (const json* artifacts = list("artifacts")) {
    if (!artifacts->is_array()) return Bad("artifacts");
    for (const json& a : *artifacts) {
      const std::string where = "artifacts[" + std::to_string(out.artifacts.size()) + "]";
      if (!a.is_object()) return Bad(where);
      Artifact artifact;
      std::string encoded;
      if (!ReadString(a, "name", &artifact.name) ||
          !ReadString(a, "media_type", &artifact.media_type) ||
          !ReadString(a, "base64", &encoded)) {
        return Bad(where);
      }
      auto bytes = Base64Decode(encoded);
      if (!bytes.ok()) return Bad(where + ".base64");
      artifact.bytes = std::move(*bytes);
      out.artifacts.push_back(std::move(artifact));
    }
  }
  if (j.contains("context_json") && !ReadString(j, "context_json", &out.context_json)) {
    return Bad("context_json");
  }
  return out;
}

json StatusToJson(const Status& status) {
  return {{"code", StatusCodeName(status.code())}, {"message", status.message()}};
}

Status StatusFromJson(const json& j) {
  std::string code, message;
  if (!j.is_object() || !ReadString(j, "code", &code) || !ReadString(j, "message", &message)) {
    return Status::Internal("evaluator output: the error is malformed");
  }
  for (int c = 1; c <= static_cast<int>(StatusCode::kUnauthenticated); ++c) {
    if (code == StatusCodeName(static_cast<StatusCode>(c))) {
      return Status(static_cast<StatusCode>(c), message);
    }
  }
  return Status::Internal(message);
}

}  // namespace qlab
