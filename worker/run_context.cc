#include "worker/run_context.h"

#include <cstdlib>
#include <fstream>
#include <string>

#include "evaluators/datatypes/registry.h"
#include "evaluators/kernels/cpu_gemv.h"
#include "evaluators/latency/device_info.h"
#include "evaluators/latency/protocol.h"

#include "build_commit.h"  // QLAB_BUILD_COMMIT, written at build time

namespace qlab::worker {

using nlohmann::json;

int EvaluatorVersion(const std::string& kind) {
  static const std::map<std::string, int> kVersions = {
      {"noop", 1}, {"quantize", 1}, {"kernel_bench", 1},
      {"latency", 1}, {"accuracy", 1}, {"predictor", 1},
  };
  auto it = kVersions.find(kind);
  return it == kVersions.end() ? 0 : it->second;
}

std::string LoadedBlasLibrary() {
  std::ifstream maps("/proc/self/maps");
  std::string line;
  while (std::getline(maps, line)) {
    const size_t slash = line.find('/');
    if (slash == std::string::npos) continue;
    const std::string path = line.substr(slash);
    const std::string file = path.substr(path.rfind('/') + 1);
    if (file.rfind("libopenblas", 0) == 0 || file.rfind("libblas", 0) == 0 ||
        file.rfind("libmkl_rt", 0) == 0 || file.rfind("libblis", 0) == 0) {
      return path;
    }
  }
  return "";
}

json BuildFacts() {
  return {{"version", "0.1.0"}, {"build", QLAB_BUILD_COMMIT}};
}

std::string JobContextJson(const std::string& kind, const DeviceInfo& device,
                           const json& runtime, const std::string& evaluator_context_json) {
  static const latency::HostInfo host = latency::ReadHostInfo();
  json evaluator = {{"kind", kind}, {"version", EvaluatorVersion(kind)}};
  if (kind == "latency") evaluator["protocol"] = latency::ProtocolSettings::kVersion;
  json context = {
      {"qlab", BuildFacts()},
      {"evaluator", evaluator},
      {"device", {{"name", device.name},
                  {"class", DeviceClassName(device.device_class)},
                  {"model", device.model},
                  {"driver", device.driver},
                  {"compute_capability", device.compute_capability},
                  {"max_clock_mhz", device.clock_mhz}}},
      {"host", {{"cpu_model", host.cpu_model},
                {"logical_cpus", host.logical_cpus},
                {"governor", host.governor},
                {"kernel", host.kernel}}},
      {"runtime", runtime.is_object() ? runtime : json::object()},
  };
  json reported = json::parse(evaluator_context_json, nullptr, false);
  if (reported.is_object()) {
    for (auto& [key, value] : reported.items()) {
      if (key == "runtime" && value.is_object()) {
        for (auto& [k, v] : value.items()) context["runtime"][k] = v;
      } else {
        context[key] = value;
      }
    }
  }
  return context.dump();
}

std::map<std::string, std::string> ProbeFormats(const DeviceInfo& device) {
  std::map<std::string, std::string> formats;
  const bool emulates = device.device_class == 1 || device.RunsKind("accuracy");
  if (emulates) {
    for (const std::string& name : datatypes::DatatypeNames()) formats[name] = "emulated";
  }
  if (device.device_class == 1) {
    // Every CPU runs the packed kernels; one without a SIMD path runs the portable one, which
    // its results name as a fallback (JobOutput "kernel"), so they stay out of comparisons.
    for (kernels::CpuGemvFormat f : kernels::kAllCpuGemvFormats) {
      formats[kernels::CpuGemvFormatName(f)] = "native";
    }
  } else if (device.device_class == 2) {
    const double cc = std::atof(device.compute_capability.c_str());
    if (cc >= 8.0) {
      formats["razer_fp4"] = "native";
      formats["int4_asym"] = "native";
      formats["nvfp4"] = "native";
    }
    formats["fp16"] = "native";  // the cuBLAS baseline
  }
  return formats;
}

}  // namespace qlab::worker
