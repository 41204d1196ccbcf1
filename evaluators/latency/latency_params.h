// Latency job parameters: parsing/validation without LibTorch (the server checks them at
// submit time) and expansion of large selections such as the `nb201-all` sweep into jobs.
//
// A latency job's `params` object (JSON; all keys lower-case; unknown keys are rejected so a
// typo cannot silently fall back to a default):
//
//   space          "nb201" | "fbnet"                                          (required)
//   -- exactly one architecture selector --
//   arch_index     int, NB201 benchmark index in [0, 15624]
//   arch_indices   [int, ...], NB201 benchmark indices (a batch of architectures per job)
//   arch_range     [begin, end], NB201 benchmark indices begin <= i < end
//   arch           one architecture: NB201 string "|op~0|+|...|", or FBNet as a list of 22 op
//                  codes/names or a string "7-8-1-..." (see fbnet.h ParseFbnetArch)
//   archs          [arch, ...], several architectures in the forms of `arch`
//   sweep          "nb201-all" (all 15,625, index order) | "nb201-unique" (6,466 classes)
//   -- optional --
//   unique         bool, NB201 only: keep the first architecture of each isomorphism class
//                  (nas::Nb201CanonicalForm) and drop the rest. Default: false
//   dataset        NB201: "cifar10" | "cifar100" | "ImageNet16-120" (default "cifar10");
//                  FBNet: "cifar100" | "ImageNet" (default "cifar100")
//   batch          int in [1, 4096]. Default: 1 (HW-NAS-Bench's batch)
//   device         "cpu" | "cuda" | "cuda:N". Default: "cpu"
//   threads        int in [0, 1024]; LibTorch intra-op threads, 0 = every CPU in the affinity
//                  mask. Default: 1 (single-stream latency, the most repeatable setting on
//                  shared or noisy hosts; for throughput run one worker per core)
//   pin            bool; pin the measuring thread to the last `threads` CPUs of the affinity
//                  mask for the job (restored afterwards). Default: true
//   interop_threads int in [1, 1024]. Default: 1
//   seed           int >= 0; weights and input are fixed by it. Default: 0
//   protocol       "default" | "reference" (ProtocolSettings defaults or the reference
//                  document's). Default: "default"
//   warmup_runs, warmup_min_s, min_runs, min_time_s, max_runs, max_time_s, cv_gate, remeasure,
//   retry_unstable override single fields of the chosen protocol (protocol.h)
//   archs_per_job  int in [1, 15625]; only read by ExpandLatencyJobs. Default: 100
//
// Every error is INVALID_ARGUMENT and starts with the offending field, e.g.
// "batch: must be an integer in [1, 4096], got 0" or "arch_indices[3]: NB201 index must be in
// [0, 15624], got 20000".
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "common/status.h"
#include "evaluators/latency/fbnet.h"
#include "evaluators/latency/nas_cost.h"
#include "evaluators/latency/nb201.h"
#include "evaluators/latency/protocol.h"

namespace qlab::latency {

enum class Space : uint8_t { kNb201 = 0, kFbnet = 1 };

// One architecture of a job.
struct ArchRef {
  Space space = Space::kNb201;
  int nb201_index = -1;       // NB201 benchmark index (always set for NB201)
  nas::Nb201Ops nb201_ops{};  // NB201 only
  nas::FbnetArch fbnet{};     // FBNet only

  // LatencySampleSet::arch_key: "nb201:<index>" or "fbnet:<codes joined by '-'>".
  std::string Key() const;
  // The architecture in its benchmark form: NB201 string, or FBNet codes joined by '-'.
  std::string Text() const;
};

// A validated job.
struct LatencyJobSpec {
  Space space = Space::kNb201;
  std::vector<ArchRef> archs;  // in measurement order; never empty
  nas::Nb201Dataset nb201_dataset = nas::Nb201Dataset::kCifar10;
  nas::FbnetDataset fbnet_dataset = nas::FbnetDataset::kCifar100;
  int batch = 1;
  std::string device = "cpu";  // normalised: "cpu" or "cuda:N"
  int threads = 1;             // 0 = all CPUs in the affinity mask
  int interop_threads = 1;
  bool pin = true;
  uint64_t seed = 0;
  ProtocolSettings protocol;
  int archs_per_job = 100;

  // "cifar10", "ImageNet", ... for the chosen space.
  std::string DatasetName() const;
};

// Parses and validates `params` (format above). INVALID_ARGUMENT naming the field on any error.
StatusOr<LatencyJobSpec> ParseLatencyParams(const nlohmann::json& params);

// ParseLatencyParams without the result: the server's submit-time check.
Status ValidateLatencyParams(const nlohmann::json& params);

// Splits one latency request into job params of at most `archs_per_job` architectures each
// (from `params["archs_per_job"]`, default 100). Each output is `params` with the selector
// replaced by an explicit list (`arch_indices` for NB201, `archs` for FBNet) and `sweep`,
// `arch_range`, `unique` and `archs_per_job` removed, so every job validates on its own and the
// union of the jobs is exactly the selection, in order. Errors: as ParseLatencyParams.
StatusOr<std::vector<nlohmann::json>> ExpandLatencyJobs(const nlohmann::json& params);

// The named sweep `nb201-all` (or its 6,466 isomorphism representatives when `unique_only`)
// in chunks of `archs_per_job`: ExpandLatencyJobs of `base_params` (dataset, batch, device,
// threads, protocol, ...) plus {"space": "nb201", "sweep": ...}. `base_params` must not carry
// its own selector. Errors: INVALID_ARGUMENT for archs_per_job outside [1, 15625] or bad
// base params.
StatusOr<std::vector<nlohmann::json>> ExpandNb201All(
    int archs_per_job, const nlohmann::json& base_params = nlohmann::json::object(),
    bool unique_only = false);

}  // namespace qlab::latency
