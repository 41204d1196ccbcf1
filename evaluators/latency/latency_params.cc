// Latency job parameter parsing and job expansion. Field errors are built in one place
// (FieldError) so that every message starts with the field the user has to fix.
#include "evaluators/latency/latency_params.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <set>

namespace qlab::latency {
namespace {

using nlohmann::json;

constexpr int kMaxBatch = 4096;
constexpr int kMaxThreads = 1024;
constexpr size_t kMaxArchsPerRequest = 100000;

// Keys a latency params object may carry (anything else is a typo or a wrong kind).
const std::set<std::string>& KnownKeys() {
  static const std::set<std::string> keys = {
      "space",         "arch_index",  "arch_indices",    "arch_range", "arch",
      "archs",         "sweep",       "unique",          "dataset",    "batch",
      "device",        "threads",     "interop_threads", "seed",       "protocol",
      "pin",           "warmup_runs", "warmup_min_s",    "min_runs",   "min_time_s",
      "max_runs",      "max_time_s",  "cv_gate",         "remeasure",  "archs_per_job",
      "retry_unstable"};
  return keys;
}
const char* const kSelectors[] = {"arch_index", "arch_indices", "arch_range",
                                  "arch",       "archs",        "sweep"};

Status FieldError(const std::string& field, const std::string& message) {
  return Status::InvalidArgument(field + ": " + message);
}

std::string Shown(const json& value) {
  std::string s = value.dump();
  if (s.size() > 80) s = s.substr(0, 77) + "...";
  return s;
}

// An integer in [lo, hi]; integral floats (2.0) are accepted, 2.5 is not.
StatusOr<int64_t> ToInt(const json& v, const std::string& field, int64_t lo, int64_t hi) {
  const std::string range =
      "must be an integer in [" + std::to_string(lo) + ", " + std::to_string(hi) + "], got ";
  int64_t x = 0;
  if (v.is_number_integer()) {
    if (v.is_number_unsigned() && v.get<uint64_t>() > static_cast<uint64_t>(INT64_MAX)) {
      return FieldError(field, range + Shown(v));
    }
    x = v.get<int64_t>();
  } else if (v.is_number_float()) {
    const double d = v.get<double>();
    if (!std::isfinite(d) || std::floor(d) != d || std::fabs(d) > 9e15) {
      return FieldError(field, range + Shown(v));
    }
    x = static_cast<int64_t>(d);
  } else {
    return FieldError(field, range + Shown(v));
  }
  if (x < lo || x > hi) return FieldError(field, range + Shown(v));
  return x;
}

StatusOr<double> ToNumber(const json& v, const std::string& field, double lo, double hi) {
  if (!v.is_number() || !std::isfinite(v.get<double>()) || v.get<double>() < lo ||
      v.get<double>() > hi) {
    return FieldError(field, "must be a number in [" + std::to_string(lo) + ", " +
                                 std::to_string(hi) + "], got " + Shown(v));
  }
  return v.get<double>();
}

StatusOr<bool> ToBool(const json& v, const std::string& field) {
  if (!v.is_boolean()) return FieldError(field, "must be true or false, got " + Shown(v));
  return v.get<bool>();
}

StatusOr<std::string> ToString(const json& v, const std::string& field) {
  if (!v.is_string()) return FieldError(field, "must be a string, got " + Shown(v));
  return v.get<std::string>();
}

StatusOr<int> ToNb201Index(const json& v, const std::string& field) {
  if (!v.is_number()) {
    return FieldError(field, "NB201 index must be an integer in [0, 15624], got " + Shown(v));
  }
  auto x = ToInt(v, field, INT32_MIN, INT32_MAX);
  if (!x.ok() || *x < 0 || *x >= nas::kNb201NumArchs) {
    return FieldError(field, "NB201 index must be in [0, 15624], got " + Shown(v));
  }
  return static_cast<int>(*x);
}

StatusOr<ArchRef> Nb201Ref(int index) {
  ArchRef ref;
  ref.space = Space::kNb201;
  ref.nb201_index = index;
  ASSIGN_OR_RETURN(ref.nb201_ops, nas::Nb201OpsOf(index));
  return ref;
}

// One architecture in `arch` form for `space`.
StatusOr<ArchRef> ParseArch(const json& v, Space space, const std::string& field) {
  ArchRef ref;
  ref.space = space;
  if (space == Space::kNb201) {
    if (!v.is_string()) {
      return FieldError(field,
                        "an NB201 architecture is a string like "
                        "\"|nor_conv_3x3~0|+|none~0|skip_connect~1|+|...|\", got " +
                            Shown(v));
    }
    auto ops = nas::ParseNb201Arch(v.get<std::string>());
    if (!ops.ok()) return ops.status().WithContext(field);
    ref.nb201_ops = *ops;
    ref.nb201_index = nas::Nb201IndexOf(*ops);
    return ref;
  }
  if (v.is_string()) {
    auto arch = nas::ParseFbnetArch(v.get<std::string>());
    if (!arch.ok()) return arch.status().WithContext(field);
    ref.fbnet = *arch;
    return ref;
  }
  if (!v.is_array()) {
    return FieldError(field,
                      "an FBNet architecture is a list of 22 op codes (0..8) or names, "
                      "or a string \"7-8-1-...\", got " +
                          Shown(v));
  }
  std::vector<int> codes;
  for (size_t i = 0; i < v.size(); ++i) {
    const json& e = v[i];
    if (e.is_string()) {
      auto code = nas::FbnetOpCodeFromName(e.get<std::string>());
      if (!code.ok()) return code.status().WithContext(field + "[" + std::to_string(i) + "]");
      codes.push_back(*code);
    } else {
      auto code = ToInt(e, field + "[" + std::to_string(i) + "]", 0, nas::kFbnetNumOps - 1);
      if (!code.ok()) return code.status();
      codes.push_back(static_cast<int>(*code));
    }
  }
  auto arch = nas::FbnetArchFromCodes(codes);
  if (!arch.ok()) return arch.status().WithContext(field);
  ref.fbnet = *arch;
  return ref;
}

Status ParseProtocol(const json& params, ProtocolSettings& p) {
  if (params.contains("protocol")) {
    ASSIGN_OR_RETURN(std::string name, ToString(params["protocol"], "protocol"));
    if (name == "reference") {
      p = ProtocolSettings::Reference();
    } else if (name != "default") {
      return FieldError("protocol",
                        "unknown protocol \"" + name + "\" (known: default, reference)");
    }
  }
  auto int_field = [&](const char* key, int& out, int64_t lo) -> Status {
    if (!params.contains(key)) return Status::Ok();
    ASSIGN_OR_RETURN(int64_t v, ToInt(params[key], key, lo, 100000000));
    out = static_cast<int>(v);
    return Status::Ok();
  };
  auto num_field = [&](const char* key, double& out, double lo) -> Status {
    if (!params.contains(key)) return Status::Ok();
    ASSIGN_OR_RETURN(out, ToNumber(params[key], key, lo, 86400.0));
    return Status::Ok();
  };
  RETURN_IF_ERROR(int_field("warmup_runs", p.warmup_runs, 0));
  RETURN_IF_ERROR(num_field("warmup_min_s", p.warmup_min_s, 0));
  RETURN_IF_ERROR(int_field("min_runs", p.min_runs, 1));
  RETURN_IF_ERROR(num_field("min_time_s", p.min_time_s, 0));
  RETURN_IF_ERROR(int_field("max_runs", p.max_runs, 1));
  RETURN_IF_ERROR(int_field("retry_unstable", p.retry_unstable, 0));
  RETURN_IF_ERROR(num_field("max_time_s", p.max_time_s, 0.001));
  if (params.contains("cv_gate")) {
    ASSIGN_OR_RETURN(p.cv_gate, ToNumber(params["cv_gate"], "cv_gate", 1e-6, 100.0));
  }
  if (params.contains("remeasure")) {
    ASSIGN_OR_RETURN(p.remeasure, ToBool(params["remeasure"], "remeasure"));
  }
  return p.Validate();  // cross-field rules (max >= min); messages start with the field
}

Status ParseDevice(const json& params, LatencyJobSpec& spec) {
  if (!params.contains("device")) return Status::Ok();
  ASSIGN_OR_RETURN(std::string d, ToString(params["device"], "device"));
  if (d == "cpu") {
    spec.device = "cpu";
    return Status::Ok();
  }
  if (d == "cuda") {
    spec.device = "cuda:0";
    return Status::Ok();
  }
  if (d.rfind("cuda:", 0) == 0 && d.size() > 5 && d.size() <= 8) {
    bool digits = true;
    for (size_t i = 5; i < d.size(); ++i)
      digits = digits && std::isdigit(static_cast<unsigned char>(d[i])) != 0;
    if (digits) {
      spec.device = "cuda:" + std::to_string(std::stoi(d.substr(5)));
      return Status::Ok();
    }
  }
  return FieldError("device", "must be \"cpu\", \"cuda\" or \"cuda:N\", got " + Shown(d));
}

}  // namespace

std::string ArchRef::Key() const {
  if (space == Space::kNb201) return "nb201:" + std::to_string(nb201_index);
  return "fbnet:" + nas::FbnetArchKey(fbnet);
}

std::string ArchRef::Text() const {
  if (space == Space::kNb201) return nas::Nb201ArchStringOf(nb201_ops);
  return nas::FbnetArchKey(fbnet);
}

std::string LatencyJobSpec::DatasetName() const {
  return std::string(space == Space::kNb201 ? nas::Nb201DatasetName(nb201_dataset)
                                            : nas::FbnetDatasetName(fbnet_dataset));
}

StatusOr<LatencyJobSpec> ParseLatencyParams(const json& params) {
  if (!params.is_object()) {
    return Status::InvalidArgument("params: must be a JSON object, got " + Shown(params));
  }
  for (const auto& [key, value] : params.items()) {
    if (!KnownKeys().count(key)) {
      return FieldError(key,
                        "unknown latency parameter (known: space, arch_index, "
                        "arch_indices, arch_range, arch, archs, sweep, unique, dataset, "
                        "batch, device, threads, interop_threads, pin, seed, protocol, "
                        "warmup_runs, warmup_min_s, min_runs, min_time_s, max_runs, "
                        "max_time_s, cv_gate, remeasure, retry_unstable, archs_per_job)");
    }
  }
  LatencyJobSpec spec;

  if (!params.contains("space")) return FieldError("space", "required (nb201 or fbnet)");
  ASSIGN_OR_RETURN(std::string space, ToString(params["space"], "space"));
  if (space == "nb201") {
    spec.space = Space::kNb201;
  } else if (space == "fbnet") {
    spec.space = Space::kFbnet;
  } else {
    return FieldError("space", "unknown search space \"" + space + "\" (known: nb201, fbnet)");
  }
  const bool nb201 = spec.space == Space::kNb201;

  // Exactly one selector.
  std::string selector;
  for (const char* key : kSelectors) {
    if (!params.contains(key)) continue;
    if (!selector.empty()) {
      return FieldError(key,
                        "give only one of arch_index, arch_indices, arch_range, arch, "
                        "archs, sweep (also got " +
                            selector + ")");
    }
    selector = key;
  }
  if (selector.empty()) {
    return FieldError("arch",
                      "no architecture given: set one of arch_index, arch_indices, "
                      "arch_range, arch, archs, sweep");
  }
  const json& sel = params[selector];
  if (!nb201 && (selector == "arch_index" || selector == "arch_indices" ||
                 selector == "arch_range" || selector == "sweep")) {
    return FieldError(selector, "FBNet has no flat index; give arch or archs (22 op codes)");
  }
  if (selector == "arch_index") {
    ASSIGN_OR_RETURN(int index, ToNb201Index(sel, "arch_index"));
    ASSIGN_OR_RETURN(ArchRef ref, Nb201Ref(index));
    spec.archs.push_back(ref);
  } else if (selector == "arch_indices" || selector == "archs") {
    if (!sel.is_array() || sel.empty()) {
      return FieldError(selector, "must be a non-empty list, got " + Shown(sel));
    }
    if (sel.size() > kMaxArchsPerRequest) {
      return FieldError(selector, "at most " + std::to_string(kMaxArchsPerRequest) +
                                      " architectures per request, got " +
                                      std::to_string(sel.size()));
    }
    for (size_t i = 0; i < sel.size(); ++i) {
      const std::string field = selector + "[" + std::to_string(i) + "]";
      if (selector == "arch_indices") {
        ASSIGN_OR_RETURN(int index, ToNb201Index(sel[i], field));
        ASSIGN_OR_RETURN(ArchRef ref, Nb201Ref(index));
        spec.archs.push_back(ref);
      } else {
        ASSIGN_OR_RETURN(ArchRef ref, ParseArch(sel[i], spec.space, field));
        spec.archs.push_back(ref);
      }
    }
  } else if (selector == "arch_range") {
    if (!sel.is_array() || sel.size() != 2) {
      return FieldError("arch_range",
                        "must be [begin, end] with 0 <= begin < end <= 15625, "
                        "got " +
                            Shown(sel));
    }
    ASSIGN_OR_RETURN(int64_t begin, ToInt(sel[0], "arch_range[0]", 0, nas::kNb201NumArchs - 1));
    ASSIGN_OR_RETURN(int64_t end, ToInt(sel[1], "arch_range[1]", begin + 1, nas::kNb201NumArchs));
    for (int64_t i = begin; i < end; ++i) {
      ASSIGN_OR_RETURN(ArchRef ref, Nb201Ref(static_cast<int>(i)));
      spec.archs.push_back(ref);
    }
  } else if (selector == "arch") {
    ASSIGN_OR_RETURN(ArchRef ref, ParseArch(sel, spec.space, "arch"));
    spec.archs.push_back(ref);
  } else {  // sweep
    ASSIGN_OR_RETURN(std::string name, ToString(sel, "sweep"));
    if (name == "nb201-all") {
      for (int i = 0; i < nas::kNb201NumArchs; ++i) spec.archs.push_back(*Nb201Ref(i));
    } else if (name == "nb201-unique") {
      for (int i : nas::Nb201UniqueIndices()) spec.archs.push_back(*Nb201Ref(i));
    } else {
      return FieldError("sweep", "unknown sweep \"" + name + "\" (known: nb201-all, nb201-unique)");
    }
  }

  if (params.contains("unique")) {
    ASSIGN_OR_RETURN(bool unique, ToBool(params["unique"], "unique"));
    if (unique && !nb201) return FieldError("unique", "isomorphism classes exist for nb201 only");
    if (unique) {
      std::set<int> seen;
      std::vector<ArchRef> kept;
      for (const ArchRef& a : spec.archs) {
        if (seen.insert(*nas::Nb201RepresentativeIndex(a.nb201_index)).second) kept.push_back(a);
      }
      spec.archs = std::move(kept);
    }
  }

  if (params.contains("dataset")) {
    ASSIGN_OR_RETURN(std::string name, ToString(params["dataset"], "dataset"));
    if (nb201) {
      auto d = nas::ParseNb201Dataset(name);
      if (!d.ok()) return d.status().WithContext("dataset");
      spec.nb201_dataset = *d;
    } else {
      auto d = nas::ParseFbnetDataset(name);
      if (!d.ok()) return d.status().WithContext("dataset");
      spec.fbnet_dataset = *d;
    }
  }
  if (params.contains("batch")) {
    ASSIGN_OR_RETURN(int64_t b, ToInt(params["batch"], "batch", 1, kMaxBatch));
    spec.batch = static_cast<int>(b);
  }
  RETURN_IF_ERROR(ParseDevice(params, spec));
  if (params.contains("threads")) {
    ASSIGN_OR_RETURN(int64_t t, ToInt(params["threads"], "threads", 0, kMaxThreads));
    spec.threads = static_cast<int>(t);
  }
  if (params.contains("interop_threads")) {
    ASSIGN_OR_RETURN(int64_t t,
                     ToInt(params["interop_threads"], "interop_threads", 1, kMaxThreads));
    spec.interop_threads = static_cast<int>(t);
  }
  if (params.contains("pin")) {
    ASSIGN_OR_RETURN(spec.pin, ToBool(params["pin"], "pin"));
  }
  if (params.contains("seed")) {
    ASSIGN_OR_RETURN(int64_t s, ToInt(params["seed"], "seed", 0, INT64_MAX));
    spec.seed = static_cast<uint64_t>(s);
  }
  RETURN_IF_ERROR(ParseProtocol(params, spec.protocol));
  if (params.contains("archs_per_job")) {
    ASSIGN_OR_RETURN(int64_t n,
                     ToInt(params["archs_per_job"], "archs_per_job", 1, nas::kNb201NumArchs));
    spec.archs_per_job = static_cast<int>(n);
  }
  return spec;
}

Status ValidateLatencyParams(const json& params) { return ParseLatencyParams(params).status(); }

StatusOr<std::vector<json>> ExpandLatencyJobs(const json& params) {
  ASSIGN_OR_RETURN(LatencyJobSpec spec, ParseLatencyParams(params));
  json base = params;
  for (const char* key : kSelectors) base.erase(key);
  base.erase("unique");
  base.erase("archs_per_job");
  std::vector<json> jobs;
  const size_t n = spec.archs.size();
  const size_t per_job = static_cast<size_t>(spec.archs_per_job);
  for (size_t begin = 0; begin < n; begin += per_job) {
    const size_t end = std::min(n, begin + per_job);
    json job = base;
    json list = json::array();
    for (size_t i = begin; i < end; ++i) {
      const ArchRef& a = spec.archs[i];
      if (spec.space == Space::kNb201) {
        list.push_back(a.nb201_index);
      } else {
        list.push_back(json(std::vector<int>(a.fbnet.begin(), a.fbnet.end())));
      }
    }
    job[spec.space == Space::kNb201 ? "arch_indices" : "archs"] = std::move(list);
    jobs.push_back(std::move(job));
  }
  return jobs;
}

StatusOr<std::vector<json>> ExpandNb201All(int archs_per_job, const json& base_params,
                                           bool unique_only) {
  if (archs_per_job < 1 || archs_per_job > nas::kNb201NumArchs) {
    return FieldError("archs_per_job",
                      "must be an integer in [1, 15625], got " + std::to_string(archs_per_job));
  }
  if (!base_params.is_object()) {
    return Status::InvalidArgument("params: must be a JSON object, got " + Shown(base_params));
  }
  for (const char* key : kSelectors) {
    if (base_params.contains(key)) {
      return FieldError(key, "the nb201-all sweep selects the architectures itself");
    }
  }
  if (base_params.contains("space") && base_params["space"] != "nb201") {
    return FieldError("space", "nb201-all is an nb201 sweep, got " + Shown(base_params["space"]));
  }
  json params = base_params;
  params["space"] = "nb201";
  params["sweep"] = unique_only ? "nb201-unique" : "nb201-all";
  params["archs_per_job"] = archs_per_job;
  return ExpandLatencyJobs(params);
}

}  // namespace qlab::latency
