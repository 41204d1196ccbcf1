#include "server/sweep.h"

#include <set>

#include <nlohmann/json.hpp>

#include "common/input_limits.h"
#include "server/job_kinds.h"
#include "server/matching.h"

namespace qlab::server {

using ojson = nlohmann::ordered_json;

namespace {

// Requirements from the sweep's "requirements" object; unset fields stay at the kind's default.
Status MergeRequirements(const ojson& in, storage::Requirements* req) {
  if (in.is_null()) return Status::Ok();
  if (!in.is_object()) return Status::InvalidArgument("requirements must be an object");
  for (const auto& [key, value] : in.items()) {
    if (key == "device_class") {
      int cls = value.is_string() ? ParseDeviceClass(value.get<std::string>()) : -1;
      if (cls < 0) {
        return Status::InvalidArgument(
            "requirements.device_class must be one of cpu, cuda, npu, any; got " + value.dump());
      }
      req->device_class = cls;
    } else if (key == "device_model_pattern") {
      if (!value.is_string()) {
        return Status::InvalidArgument("requirements.device_model_pattern must be a string");
      }
      req->device_model_pattern = value.get<std::string>();
    } else if (key == "min_memory_bytes") {
      if (!value.is_number_unsigned() && !(value.is_number_integer() && value.get<int64_t>() >= 0)) {
        return Status::InvalidArgument("requirements.min_memory_bytes must be a non-negative integer");
      }
      req->min_memory_bytes = value.get<uint64_t>();
    } else if (key == "exclusive") {
      if (!value.is_boolean()) return Status::InvalidArgument("requirements.exclusive must be true or false");
      req->exclusive = value.get<bool>();
    } else {
      return Status::InvalidArgument("requirements." + key + " is not a known requirement");
    }
  }
  return Status::Ok();
}


Status ReadInt(const ojson& sweep, const char* field, int lo, int hi, int* out) {
  if (!sweep.contains(field)) return Status::Ok();
  const auto& v = sweep[field];
  if (!v.is_number_integer() || v.get<int64_t>() < lo || v.get<int64_t>() > hi) {
    return Status::InvalidArgument(std::string(field) + " must be an integer in [" +
                                   std::to_string(lo) + ", " + std::to_string(hi) + "]");
  }
  *out = v.get<int>();
  return Status::Ok();
}

}  // namespace

StatusOr<std::vector<storage::JobSpec>> SpecsForPoint(const JobKind& kind, const ojson& point,
                                                      const ojson& requirements, int priority,
                                                      int max_attempts) {
  const std::string point_text = point.dump();
  RETURN_IF_ERROR(CheckSize(point_text.size(), kMaxJobParamsBytes, "params of one job"));
  nlohmann::json params = nlohmann::json::parse(point_text);
  std::vector<nlohmann::json> expanded;
  if (kind.expand) {
    ASSIGN_OR_RETURN(expanded, kind.expand(params));
  } else {
    expanded.push_back(std::move(params));
  }
  std::vector<storage::JobSpec> specs;
  for (auto& p : expanded) {
    if (kind.validate) RETURN_IF_ERROR(kind.validate(p));
    storage::JobSpec spec;
    spec.kind = kind.name;
    spec.params_json = p.dump();
    RETURN_IF_ERROR(CheckSize(spec.params_json.size(), kMaxJobParamsBytes, "params of one job"));
    if (kind.requirements) spec.requirements = kind.requirements(p);
    RETURN_IF_ERROR(MergeRequirements(requirements, &spec.requirements));
    spec.priority = priority;
    spec.max_attempts = max_attempts;
    specs.push_back(std::move(spec));
  }
  return specs;
}

StatusOr<ExpandedSweep> ExpandSweep(const std::string& sweep_json, int64_t max_jobs) {
  RETURN_IF_ERROR(CheckJsonNesting(sweep_json, kMaxJsonNesting, "sweep"));
  ojson sweep = ojson::parse(sweep_json, nullptr, /*allow_exceptions=*/false);
  if (sweep.is_discarded()) return Status::InvalidArgument("sweep is not valid JSON");
  if (!sweep.is_object()) return Status::InvalidArgument("sweep must be an object");
  static const std::set<std::string> kKnown = {"name",     "kind",         "params", "axes",
                                               "requirements", "priority", "max_attempts",
                                               "tags",     "description", "search",
                                               "timeout_s"};
  for (const auto& [key, value] : sweep.items()) {
    if (!kKnown.count(key)) return Status::InvalidArgument("sweep field '" + key + "' is unknown");
  }
  if (!sweep.contains("name") || !sweep["name"].is_string() ||
      sweep["name"].get<std::string>().empty()) {
    return Status::InvalidArgument("name is required (a non-empty string)");
  }
  if (!sweep.contains("kind") || !sweep["kind"].is_string()) {
    return Status::InvalidArgument("kind is required (a string)");
  }
  const std::string kind_name = sweep["kind"].get<std::string>();
  const JobKind* kind = FindJobKind(kind_name);
  if (!kind) {
    std::string known;
    for (const auto& k : JobKindNames()) known += (known.empty() ? "" : ", ") + k;
    return Status::InvalidArgument("kind '" + kind_name + "' is unknown; known kinds: " + known);
  }
  ojson params = sweep.value("params", ojson::object());
  if (!params.is_object()) return Status::InvalidArgument("params must be an object");
  ojson axes = sweep.value("axes", ojson::object());
  if (!axes.is_object()) return Status::InvalidArgument("axes must be an object of lists");
  int64_t count = 1;
  for (const auto& [axis, values] : axes.items()) {
    if (!values.is_array()) return Status::InvalidArgument("axes." + axis + " must be a list");
    if (values.empty()) return Status::InvalidArgument("axes." + axis + " is empty");
    if (params.contains(axis)) {
      return Status::InvalidArgument("axes." + axis + " repeats params." + axis);
    }
    count *= static_cast<int64_t>(values.size());
    if (count > max_jobs) {
      return Status::InvalidArgument("axes: the sweep has more than " + std::to_string(max_jobs) +
                                     " jobs (the server's limit, --max-sweep-jobs)");
    }
  }
  int priority = 0, max_attempts = 0, timeout_s = 0;
  RETURN_IF_ERROR(ReadInt(sweep, "priority", -1000000, 1000000, &priority));
  RETURN_IF_ERROR(ReadInt(sweep, "max_attempts", 0, 100, &max_attempts));
  RETURN_IF_ERROR(ReadInt(sweep, "timeout_s", 0, kMaxTimeoutSeconds, &timeout_s));
  ojson requirements = sweep.value("requirements", ojson());
  RETURN_IF_ERROR(CheckSize(sweep["name"].get<std::string>().size(), kMaxNameBytes, "name"));
  ojson tags = sweep.value("tags", ojson::array());
  if (!tags.is_array()) return Status::InvalidArgument("tags must be a list of strings");
  if (tags.size() > kMaxTags) {
    return Status::InvalidArgument("tags: at most " + std::to_string(kMaxTags) + " tags");
  }
  for (const auto& tag : tags) {
    if (!tag.is_string()) return Status::InvalidArgument("tags must be a list of strings");
    RETURN_IF_ERROR(CheckSize(tag.get<std::string>().size(), kMaxNameBytes, "a tag"));
  }

  ExpandedSweep out;
  out.experiment.name = sweep["name"].get<std::string>();
  out.experiment.kind = kind_name;
  out.experiment.spec_json = sweep.dump();
  out.experiment.tags_json = tags.dump();
  if (sweep.contains("search")) {
    ASSIGN_OR_RETURN(out.study, ParseStudySweep(sweep));
    return out;
  }

  std::vector<std::pair<std::string, const ojson*>> axis_list;
  for (const auto& [axis, values] : axes.items()) axis_list.emplace_back(axis, &values);
  std::vector<size_t> index(axis_list.size(), 0);
  for (int64_t n = 0; n < count; ++n) {
    ojson point = params;
    std::string where;
    for (size_t a = 0; a < axis_list.size(); ++a) {
      const ojson& value = (*axis_list[a].second)[index[a]];
      point[axis_list[a].first] = value;
      where += (where.empty() ? "" : ", ") + axis_list[a].first + "=" + value.dump();
    }
    auto specs = SpecsForPoint(*kind, point, requirements, priority, max_attempts);
    if (!specs.ok()) {
      return Status(specs.status().code(),
                    specs.status().message() + (where.empty() ? "" : " (at " + where + ")"));
    }
    for (auto& s : *specs) {
      s.timeout_s = timeout_s;
      out.jobs.push_back(std::move(s));
    }
    if (static_cast<int64_t>(out.jobs.size()) > max_jobs) {
      return Status::InvalidArgument("the sweep expands to more than " + std::to_string(max_jobs) +
                                     " jobs (the server's limit, --max-sweep-jobs)");
    }
    // Odometer: the last axis varies fastest.
    for (size_t a = axis_list.size(); a-- > 0;) {
      if (++index[a] < axis_list[a].second->size()) break;
      index[a] = 0;
    }
  }
  return out;
}

StatusOr<storage::JobSpec> MakeJobSpec(const std::string& kind_name, const std::string& params_json,
                                       const storage::Requirements& explicit_requirements,
                                       int priority, int max_attempts, int timeout_s) {
  if (timeout_s < 0 || timeout_s > kMaxTimeoutSeconds) {
    return Status::InvalidArgument("spec.timeout_s must be in [0, " +
                                   std::to_string(kMaxTimeoutSeconds) + "]");
  }
  const JobKind* kind = FindJobKind(kind_name);
  if (!kind) return Status::InvalidArgument("spec.kind '" + kind_name + "' is unknown");
  RETURN_IF_ERROR(CheckSize(params_json.size(), kMaxJobParamsBytes, "spec.params_json"));
  RETURN_IF_ERROR(CheckJsonNesting(params_json, kMaxJsonNesting, "spec.params_json"));
  auto params = nlohmann::json::parse(params_json.empty() ? "{}" : params_json, nullptr, false);
  if (params.is_discarded() || !params.is_object()) {
    return Status::InvalidArgument("spec.params_json must be a JSON object");
  }
  if (kind->validate) RETURN_IF_ERROR(kind->validate(params).WithContext("spec.params_json"));
  storage::JobSpec spec;
  spec.kind = kind_name;
  spec.params_json = params.dump();
  if (kind->requirements) spec.requirements = kind->requirements(params);
  const auto& e = explicit_requirements;
  if (e.device_class) spec.requirements.device_class = e.device_class;
  if (!e.device_model_pattern.empty()) spec.requirements.device_model_pattern = e.device_model_pattern;
  if (e.min_memory_bytes) spec.requirements.min_memory_bytes = e.min_memory_bytes;
  if (e.exclusive) spec.requirements.exclusive = true;
  spec.priority = priority;
  spec.max_attempts = max_attempts;
  spec.timeout_s = timeout_s;
  return spec;
}

}  // namespace qlab::server
