#include "server/comparability.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <map>

#include "common/input_limits.h"
#include "server/auth.h"

namespace qlab::server {
namespace {

using nlohmann::json;

std::string Hash16(const std::string& text) { return Sha256Hex(text).substr(0, 16); }

void Flatten(const json& v, const std::string& prefix, std::map<std::string, std::string>* out) {
  if (v.is_object()) {
    for (const auto& [k, e] : v.items()) Flatten(e, prefix.empty() ? k : prefix + "." + k, out);
    return;
  }
  (*out)[prefix] = v.is_string() ? v.get<std::string>() : v.dump();
}

std::string Text(const json& context, const char* object, const char* field) {
  auto o = context.find(object);
  if (o == context.end() || !o->is_object()) return "";
  auto f = o->find(field);
  if (f == o->end()) return "";
  return f->is_string() ? f->get<std::string>() : f->dump();
}

}  // namespace

json CanonicalJson(const json& v) {
  if (v.is_number_float()) {
    const double d = v.get<double>();
    constexpr double kLimit = 9.2e18;  // inside int64_t's range
    if (std::isfinite(d) && std::floor(d) == d && std::fabs(d) < kLimit) {
      return json(static_cast<int64_t>(d));
    }
    return v;
  }
  if (v.is_number_unsigned() &&
      v.get<uint64_t>() <= static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
    return json(v.get<int64_t>());
  }
  if (v.is_array()) {
    json out = json::array();
    for (const auto& e : v) out.push_back(CanonicalJson(e));
    return out;
  }
  if (v.is_object()) {
    json out = json::object();
    for (const auto& [k, e] : v.items()) out[k] = CanonicalJson(e);
    return out;
  }
  return v;
}

std::string JobIdentity(const storage::JobSpec& spec) {
  const json params = json::parse(spec.params_json, nullptr, false);
  const auto& r = spec.requirements;
  return spec.kind + "\n" + CanonicalJson(params).dump() + "\n" +
         std::to_string(r.device_class) + "\n" + r.device_model_pattern + "\n" +
         std::to_string(r.min_memory_bytes) + "\n" + (r.exclusive ? "1" : "0");
}

StatusOr<storage::Comparability> ComputeComparability(const std::string& kind,
                                                      const std::string& params_json,
                                                      const std::string& context_json) {
  storage::Comparability out;
  if (context_json.empty()) return out;
  RETURN_IF_ERROR(CheckSize(context_json.size(), kMaxContextBytes, "context_json"));
  RETURN_IF_ERROR(CheckJsonNesting(context_json, kMaxJsonNesting, "context_json"));
  json context = json::parse(context_json, nullptr, false);
  if (!context.is_object()) return Status::InvalidArgument("context_json must be a JSON object");
  context = CanonicalJson(context);
  json environment = context;
  environment.erase("kernel");
  out.environment_key = Hash16(environment.dump());
  const json params = json::parse(params_json, nullptr, false);
  out.comparability_key =
      Hash16(kind + "\n" + CanonicalJson(params).dump() + "\n" + context.dump());
  out.context_json = context.dump();
  auto kernel = context.find("kernel");
  if (kernel != context.end() && kernel->is_object()) {
    auto backend = kernel->find("backend");
    if (backend != kernel->end() && backend->is_string()) {
      const std::string b = backend->get<std::string>();
      if (b == "native" || b == "emulated" || b == "fallback" || b == "vendor") out.backend = b;
    }
  }
  return out;
}

std::string ContextSummary(const std::string& context_json) {
  const json context = json::parse(context_json, nullptr, false);
  if (!context.is_object()) return "no context reported";
  std::string out = Text(context, "device", "class") + " " + Text(context, "device", "model");
  const std::string driver = Text(context, "device", "driver");
  if (!driver.empty()) out += " (driver " + driver + ")";
  const std::string torch = Text(context, "runtime", "libtorch");
  if (!torch.empty()) out += ", LibTorch " + torch;
  out += ", qlab " + Text(context, "qlab", "version");
  const std::string build = Text(context, "qlab", "build");
  if (!build.empty()) out += "+" + build;
  return out;
}

std::vector<ContextDifference> DiffContexts(const std::string& a_json, const std::string& b_json) {
  std::map<std::string, std::string> a, b;
  const json ja = json::parse(a_json, nullptr, false), jb = json::parse(b_json, nullptr, false);
  if (ja.is_object()) Flatten(ja, "", &a);
  if (jb.is_object()) Flatten(jb, "", &b);
  std::vector<ContextDifference> out;
  for (const auto& [field, value] : a) {
    auto it = b.find(field);
    const std::string other = it == b.end() ? "" : it->second;
    if (other != value) out.push_back({field, value, other});
  }
  for (const auto& [field, value] : b) {
    if (!a.count(field)) out.push_back({field, "", value});
  }
  std::sort(out.begin(), out.end(),
            [](const ContextDifference& x, const ContextDifference& y) { return x.field < y.field; });
  return out;
}

}  // namespace qlab::server
