// qlab submit: a sweep file to the coordinator, optionally waiting for every job.
#include "cli/commands.h"

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <thread>

#include "cli/sweep_file.h"

namespace qlab::cli {

using nlohmann::json;
using ojson = nlohmann::ordered_json;

// ---- submit / wait ----------------------------------------------------------------------------

namespace {

int WaitForExperiment(Client& c, const std::string& name, bool quiet) {
  std::string last;
  for (;;) {
    v1::GetExperimentRequest req;
    req.set_name(name);
    v1::Experiment e;
    grpc::Status st = c.jobs().GetExperiment(c.Ctx().get(), req, &e);
    if (!st.ok()) {
      if (st.error_code() == grpc::UNAVAILABLE) {  // a restarting server: keep waiting
        std::this_thread::sleep_for(std::chrono::seconds(1));
        continue;
      }
      return Fail(st, "submit --wait");
    }
    int64_t done = e.succeeded_jobs() + e.failed_jobs() + e.cancelled_jobs();
    char line[256];
    std::snprintf(line, sizeof(line), "%s: %lld/%lld done (%lld succeeded, %lld failed, %lld running, %lld pending)",
                  name.c_str(), (long long)done, (long long)e.total_jobs(),
                  (long long)e.succeeded_jobs(), (long long)e.failed_jobs(),
                  (long long)e.running_jobs(), (long long)e.pending_jobs());
    if (!quiet && line != last) {
      std::fprintf(stderr, "%s\n", line);
      last = line;
    }
    if (done == e.total_jobs()) return e.succeeded_jobs() == e.total_jobs() ? 0 : 1;
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
  }
}

}  // namespace

int CmdSubmit(Client& c, const std::string& file, const std::string& name, bool wait,
              bool dry_run, bool quiet, bool force) {
  auto sweep = ReadSweepFile(file);
  if (!sweep.ok()) return Fail(sweep.status(), "submit");
  {
    auto j = ojson::parse(*sweep, nullptr, false);
    if (!j.is_object()) return Fail(Status::InvalidArgument("sweep must be a mapping"), "submit");
    if (!name.empty()) j["name"] = name;
    if (Status s = FillStudyGenes(j, file); !s.ok()) return Fail(s, "submit");
    *sweep = j.dump();
  }
  v1::SubmitExperimentRequest req;
  req.set_sweep_json(*sweep);
  req.set_dry_run(dry_run);
  req.set_force(force);
  const char* user = std::getenv("USER");
  req.set_owner(user ? user : "");
  v1::SubmitExperimentResponse resp;
  grpc::Status st = c.jobs().SubmitExperiment(c.Ctx(300).get(), req, &resp);
  if (!st.ok()) return Fail(st, "submit");
  if (resp.study_trials() > 0) {
    if (dry_run) {
      std::printf("study %s: %lld trials (dry run, nothing stored)\n", resp.name().c_str(),
                  (long long)resp.study_trials());
      return 0;
    }
    std::printf("study %s (id %lld): %lld trials, proposed as results come in; follow with "
                "`qlab study %s`\n",
                resp.name().c_str(), (long long)resp.experiment_id(),
                (long long)resp.study_trials(), resp.name().c_str());
    std::fflush(stdout);
    return wait ? WaitForStudy(c, resp.name(), quiet) : 0;
  }
  if (resp.resubmitted()) {
    // The experiment existed: only what it lacks runs (resubmission.h).
    std::printf("experiment %s%s: %lld jobs %s (%lld of them failed or cancelled before), "
                "%lld reused%s\n",
                resp.name().c_str(),
                dry_run ? "" : (" (id " + std::to_string(resp.experiment_id()) + ")").c_str(),
                (long long)resp.job_count(), dry_run ? "would run" : "to run",
                (long long)resp.requeued_count(), (long long)resp.reused_count(),
                dry_run ? " (dry run, nothing stored)" : "");
    std::fflush(stdout);
    if (dry_run || !wait) return 0;
    return WaitForExperiment(c, resp.name(), quiet);
  }
  if (dry_run) {
    std::printf("experiment %s: %lld jobs would run, 0 reused (dry run, nothing stored)\n",
                resp.name().c_str(), (long long)resp.job_count());
    return 0;
  }
  std::printf("experiment %s (id %lld): %lld jobs, ids %lld..%lld\n", resp.name().c_str(),
              (long long)resp.experiment_id(), (long long)resp.job_count(),
              (long long)resp.first_job_id(),
              (long long)(resp.first_job_id() + resp.job_count() - 1));
  std::fflush(stdout);
  if (!wait) return 0;
  return WaitForExperiment(c, resp.name(), quiet);
}

}  // namespace qlab::cli
