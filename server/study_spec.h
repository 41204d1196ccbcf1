// Studies (DESIGN.md §10 `search`): a sweep whose jobs a sampler chooses from the finished
// ones. This file reads and checks the search block, turns it into the sampler's space, builds
// a trial's params from an assignment, and reports a study's progress and front. No gRPC, no
// SQLite: the study runner (study_runner.h) does the I/O.
//
//   search:
//     sampler: nsga2            # nsga2 | random. Default: nsga2
//     trials: 200               # 1 .. 100,000: jobs the study runs in all (failed ones count)
//     parallel: 8               # 1 .. 10,000: trials in flight at once. Default: 8
//     seed: 1                   # integer >= 0. Default: 0
//     population: 20            # NSGA-II population; 0 (default): evaluators/search's rule
//     objectives: [{metric: perplexity, direction: min}, {metric: bits_per_weight}]
//     reference: [40, 9]        # optional: the hypervolume's reference point, per objective
//     space:
//       datatype:               # a job param the search sets
//         per: tensor           # tensor | layer | pattern: one choice per gene, the param a
//                               # map {gene: choice}; absent: one choice for the param itself
//         choices: [int3_asym, razer_fp3, int4_asym, razer_fp4, nf4, int8_asym]
//         genes: [...]          # per tensor|layer: the map's keys (`qlab submit` fills them
//                               # from the model: block-linear names, or model.layers.N.*)
//         patterns: [...]       # per pattern: the map's keys, as written
//
// A param the search sets must not also be in `params`; `axes` and `search` do not mix.
#pragma once

#include <cstdint>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "common/status.h"
#include "evaluators/search/sampler.h"
#include "storage/records.h"

namespace qlab::server {

// One entry of search.space.
struct StudyParam {
  std::string param;                    // the job param it sets
  std::string per;                      // "", "tensor", "layer" or "pattern"
  std::vector<nlohmann::json> choices;  // scalars (strings, numbers, booleans), distinct
  std::vector<std::string> genes;       // per != "": the map's keys
};

struct StudySpec {
  std::string kind;                  // of the trial jobs
  nlohmann::json params;             // fixed params of every trial
  nlohmann::json requirements;       // the sweep's requirements block (or null)
  int priority = 0, max_attempts = 0, timeout_s = 0;
  search::SamplerOptions sampler;    // kind, seed, trials, population_size
  int64_t trials = 0;
  int parallel = 8;
  std::vector<search::Objective> objectives;
  std::vector<double> reference;     // empty: derived from the trials (StudyReport)
  std::vector<StudyParam> space;
};

// Bounds of the search block.
inline constexpr int64_t kMaxStudyTrials = 100'000;
inline constexpr int kMaxStudyParallel = 10'000;
inline constexpr size_t kMaxStudyParams = 64;
inline constexpr size_t kMaxStudyChoices = 256;
inline constexpr size_t kMaxStudyGenes = 4096;
// Hypervolume is exact; beyond four objectives its cost grows too fast to compute per request.
inline constexpr size_t kMaxStudyObjectives = 4;
// The report lists every trial's assignment while trials x genes stays under this; past it only
// the front's (a trial's job has its params either way).
inline constexpr size_t kMaxReportAssignmentCells = 1'000'000;

// Reads `sweep` (the whole sweep object, `search` present) into a spec, checking every field
// (INVALID_ARGUMENT naming it: "search.space.datatype.choices[2]: ...") and each choice against
// the kind's param validation, so a bad study is refused at submit and not at its first trial.
StatusOr<StudySpec> ParseStudySweep(const nlohmann::ordered_json& sweep);

// The stored form (study.spec_json) and back. StudySpecFromJson(StudySpecToJson(s)) == s.
// Reading back checks the structure only: the choices were validated as job params when the
// study was submitted, and each trial's job is validated again when it is made.
std::string StudySpecToJson(const StudySpec& spec);
StatusOr<StudySpec> StudySpecFromJson(const std::string& text);

// Decision variables of the study: one per param without `per`, one per gene of the others.
size_t GeneCount(const StudySpec& spec);

// The sampler's genes: each param's genes in order (one gene, named after the param, when per
// is empty), with the param's choices.
search::SearchSpace SearchSpaceOf(const StudySpec& spec);
StatusOr<std::unique_ptr<search::Sampler>> MakeSampler(const StudySpec& spec);

// The job of one trial: the fixed params plus each searched param from `assignment` (choice
// indices, one per gene), validated as the kind's params.
StatusOr<storage::JobSpec> TrialJobSpec(const StudySpec& spec, const search::Assignment& assignment);

// What a trial produced, for the sampler and the report.
struct TrialView {
  int64_t trial = 0, job_id = 0;
  storage::JobState state = storage::JobState::kPending;
  search::Assignment assignment;
  std::vector<double> values;  // one per objective when succeeded with every objective metric
  std::string error;
};

// The documented JSON of GetStudy and /api/v1/studies/NAME: budget and counts, objectives,
// the reference point used, the current front (trial indices) and its hypervolume, the
// hypervolume after each completed trial (up to ~200 steps; two or three objectives only), and
// every trial with its job, state, values and assignment ({param: choice} or
// {param: {gene: choice}}; null off the front when kMaxReportAssignmentCells is exceeded).
nlohmann::json StudyReport(const std::string& experiment, const StudySpec& spec, bool done,
                           const std::vector<TrialView>& trials);

}  // namespace qlab::server
