#include "server/job_kinds.h"

#include <map>
#include <set>

#include "evaluators/accuracy/accuracy_job.h"
#include "evaluators/datatypes/quantize_job.h"
#include "evaluators/datatypes/registry.h"
#include "evaluators/kernels/cpu_gemv.h"
#include "evaluators/kernels/gemv_format.h"
#include "evaluators/kernels/kernel_bench_params.h"
#include "evaluators/latency/latency_params.h"
#include "evaluators/predictor/predictor_params.h"
#include "server/matching.h"

namespace qlab::server {
namespace {

Status ValidateNoop(const nlohmann::json& p) {
  for (const auto& [key, value] : p.items()) {
    if (key == "duration_ms") {
      if (!value.is_number_integer() || value.get<int64_t>() < 0 || value.get<int64_t>() > 86'400'000) {
        return Status::InvalidArgument("duration_ms must be an integer in [0, 86400000]");
      }
    } else if (key == "fail") {
      if (!value.is_boolean()) return Status::InvalidArgument("fail must be true or false");
    } else if (key == "fault") {
      // Misbehaviour on purpose, in a child evaluator only: what the worker must survive.
      static const std::set<std::string> kFaults = {"segv", "abort", "exit", "hang", "oom"};
      if (!value.is_string() || !kFaults.count(value.get<std::string>())) {
        return Status::InvalidArgument("fault must be one of segv, abort, exit, hang, oom");
      }
    } else if (key == "metrics") {
      if (!value.is_object()) return Status::InvalidArgument("metrics must be an object of numbers");
      for (const auto& [name, v] : value.items()) {
        if (!v.is_number()) return Status::InvalidArgument("metrics." + name + " must be a number");
      }
    } else if (key != "seq" && key != "label") {
      return Status::InvalidArgument("noop has no param '" + key + "'");
    }
  }
  return Status::Ok();
}

// A registry datatype that no kernel of this build packs is not an error here: whether some
// worker's device runs it natively is the capability matrix's to say (the job waits, with the
// reason, until one does). The other params are still checked, against a datatype that has a
// kernel.
Status ValidateKernelBench(const nlohmann::json& p) {
  Status st = kernels::KernelBenchParamsFromJson(p).status();
  if (st.ok()) return st;
  for (const char* key : {"datatype", "kernel"}) {
    auto it = p.find(key);
    if (it == p.end() || !it->is_string()) continue;
    const std::string name = it->get<std::string>();
    const bool has_kernel = kernels::ParseCpuGemvFormat(name).has_value() ||
                            kernels::ParseGemvKernelOrDatatype(name).has_value();
    if (has_kernel || datatypes::FindDatatype(name) == nullptr) continue;
    nlohmann::json substitute = p;
    substitute[key] = "int4_asym";
    substitute.erase("group_size");
    if (kernels::KernelBenchParamsFromJson(substitute).ok()) return Status::Ok();
  }
  return st;
}

// The device a job names in params ("cpu", "cuda:0") as a requirement.
storage::Requirements DeviceFromParams(const nlohmann::json& p, bool exclusive) {
  storage::Requirements r;
  r.exclusive = exclusive;
  std::string device = p.value("device", std::string("cpu"));
  r.device_class = ParseDeviceClass(device.substr(0, device.find(':')));
  if (r.device_class < 0) r.device_class = 0;
  return r;
}

const std::map<std::string, JobKind>& Kinds() {
  static const auto* kinds = new std::map<std::string, JobKind>{
      {"noop", {"noop", ValidateNoop, {}, {}}},
      {"quantize",
       {"quantize", datatypes::ValidateQuantizeParams,
        [](const nlohmann::json& p) -> StatusOr<std::vector<nlohmann::json>> {
          ASSIGN_OR_RETURN(auto names, datatypes::ExpandTensorNames(p));
          std::vector<nlohmann::json> out;
          if (!p.contains("safetensors")) {
            out.push_back(p);
            return out;
          }
          for (const auto& name : names) {
            nlohmann::json one = p;
            one["tensor"] = name;
            out.push_back(std::move(one));
          }
          return out;
        },
        {}}},
      {"kernel_bench",
       {"kernel_bench", ValidateKernelBench, {},
        [](const nlohmann::json& p) {
          // `device: cpu` runs the CPU kernels; anything else (cuda:N, N, absent) needs CUDA.
          const auto device = p.find("device");
          const bool cpu = device != p.end() && device->is_string() &&
                           device->get<std::string>().rfind("cpu", 0) == 0;
          storage::Requirements r;
          r.device_class = cpu ? ParseDeviceClass("cpu") : ParseDeviceClass("cuda");
          r.exclusive = true;  // timings need the device to themselves
          return r;
        }}},
      {"latency",
       {"latency", latency::ValidateLatencyParams,
        // A selection (sweep: nb201-all, arch_range, ...) fans out into jobs of archs_per_job.
        [](const nlohmann::json& p) { return latency::ExpandLatencyJobs(p); },
        [](const nlohmann::json& p) { return DeviceFromParams(p, /*exclusive=*/true); }}},
      {"accuracy",
       {"accuracy", ValidateAccuracyParams, {},
        [](const nlohmann::json& p) { return DeviceFromParams(p, /*exclusive=*/false); }}},
      {"predictor",
       {"predictor", predictor::ValidatePredictorParams, {},
        [](const nlohmann::json& p) { return DeviceFromParams(p, /*exclusive=*/false); }}},
  };
  return *kinds;
}

}  // namespace

const JobKind* FindJobKind(const std::string& name) {
  auto it = Kinds().find(name);
  return it == Kinds().end() ? nullptr : &it->second;
}

std::vector<std::string> JobKindNames() {
  std::vector<std::string> names;
  for (const auto& [name, kind] : Kinds()) names.push_back(name);
  return names;
}

}  // namespace qlab::server
