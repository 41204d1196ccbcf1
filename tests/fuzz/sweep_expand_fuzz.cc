// Fuzzes sweep expansion and the params validation of every job kind, as the coordinator runs
// them on SubmitExperiment and SubmitJob (server/sweep.h, server/job_kinds.cc): the input goes
// through the CLI's sweep reader (YAML or JSON) into ExpandSweep, and as raw params JSON into
// MakeJobSpec for each kind. Invariants: an accepted sweep has at most max_jobs jobs, each of
// whose params is a JSON object that MakeJobSpec accepts too; an accepted study (a sweep with
// `search`) reads back from its stored form, and its first trial (every gene at its first
// choice) makes a job.
#include <cstddef>
#include <cstdint>
#include <string>

#include <nlohmann/json.hpp>

#include "cli/sweep_file.h"
#include "server/job_kinds.h"
#include "server/study_spec.h"
#include "server/sweep.h"
#include "tests/fuzz/fuzz_support.h"

namespace {

constexpr int64_t kMaxJobs = 64;

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size > qlab::fuzz::kMaxInputBytes) return 0;
  const std::string text(reinterpret_cast<const char*>(data), size);

  auto sweep_json = qlab::cli::SweepTextToJson(text);
  if (sweep_json.ok()) {
    auto sweep = qlab::server::ExpandSweep(*sweep_json, kMaxJobs);
    if (sweep.ok() && sweep->study.has_value()) {
      const std::string stored = qlab::server::StudySpecToJson(*sweep->study);
      auto again = qlab::server::StudySpecFromJson(stored);
      QLAB_FUZZ_CHECK(again.ok(), stored + ": " + again.status().message());
      QLAB_FUZZ_CHECK(qlab::server::StudySpecToJson(*again) == stored, stored);
      const size_t genes = qlab::server::GeneCount(*sweep->study);
      auto first = qlab::server::TrialJobSpec(*sweep->study, qlab::search::Assignment(genes, 0.0));
      QLAB_FUZZ_CHECK(first.ok(), stored + ": " + first.status().message());
    }
    if (sweep.ok()) {
      QLAB_FUZZ_CHECK(static_cast<int64_t>(sweep->jobs.size()) <= kMaxJobs, *sweep_json);
      for (const auto& job : sweep->jobs) {
        const auto params = nlohmann::json::parse(job.params_json, nullptr, false);
        QLAB_FUZZ_CHECK(!params.is_discarded() && params.is_object(), job.params_json);
        auto spec = qlab::server::MakeJobSpec(job.kind, job.params_json, {}, 0, 0);
        QLAB_FUZZ_CHECK(spec.ok(),
                        job.kind + " " + job.params_json + ": " + spec.status().message());
      }
    }
  }

  for (const std::string& kind : qlab::server::JobKindNames()) {
    auto spec = qlab::server::MakeJobSpec(kind, text, {}, 0, 0);
    if (spec.ok()) {
      const auto params = nlohmann::json::parse(spec->params_json, nullptr, false);
      QLAB_FUZZ_CHECK(!params.is_discarded() && params.is_object(), spec->params_json);
    }
  }
  return 0;
}
