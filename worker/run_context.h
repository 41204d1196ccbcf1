// What a job's figure depends on besides its params, as the worker reports it with every
// success (Completion.context_json; README "Can I trust this number?"), and what each of its
// devices can run (Device.formats, the capability matrix).
//
// The context is a JSON object of stable facts only (nothing that changes from run to run on
// the same machine, such as the current clock or the hostname), because the coordinator hashes
// it: two runs on identical set-ups must get the same key.
//   qlab       {version, build}: this worker's build
//   evaluator  {kind, version[, protocol]}: bumped when an evaluator's numbers change
//   device     {name, class, model, driver, compute_capability, max_clock_mhz}
//   host       {cpu_model, logical_cpus, governor, kernel}
//   runtime    {libtorch, blas, ...}: the evaluator's process (qlab-evaluate --describe)
//   kernel     {name, backend, path | launch, ...}: what the evaluator ran (JobOutput)
#pragma once

#include <map>
#include <string>

#include <nlohmann/json.hpp>

#include "common/device.h"

namespace qlab::worker {

// The version of an evaluator kind's numbers: bump the kind's row when a change to it moves the
// figures it reports, so that old and new figures get different comparability keys.
int EvaluatorVersion(const std::string& kind);

// The BLAS library this process has loaded (its resolved path, from /proc/self/maps), or "".
std::string LoadedBlasLibrary();

// qlab's version and build: the git commit the build was made from ("-dirty" with local
// changes; "" outside a git checkout).
nlohmann::json BuildFacts();

// The context of one successful job: the worker's facts about `device` and its host, the
// evaluator's `runtime` facts, and what the evaluator reported (`evaluator_context_json`, a
// JSON object or ""; its "runtime" is merged into the worker's, its other keys are kept).
std::string JobContextJson(const std::string& kind, const DeviceInfo& device,
                           const nlohmann::json& runtime, const std::string& evaluator_context_json);

// The capability matrix of one device (Device.formats): datatype -> "native" | "emulated".
// A CPU runs every registry datatype emulated (the quantizers) and the formats of the CPU GEMV
// kernels natively (on a CPU without a SIMD path through the portable kernel, whose results
// are tagged as a fallback); a CUDA device (found only by builds with the CUDA kernels) runs the fused GEMV
// kernels' formats natively on compute capability 8.0 and up (they issue mma.sync), and the
// registry's datatypes emulated when `device.kinds` lets it run accuracy jobs. Call after
// AssignDeviceKinds.
std::map<std::string, std::string> ProbeFormats(const DeviceInfo& device);

}  // namespace qlab::worker
