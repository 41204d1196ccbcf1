// qlab jobs, show, watch, cancel, artifacts, workers, experiments: what is queued, running
// and done, and who runs it.
#include "cli/commands.h"

#include <cstdio>

#include "cli/table.h"
#include "common/text_format.h"

namespace qlab::cli {

using nlohmann::json;
using ojson = nlohmann::ordered_json;

// ---- jobs / show / watch / cancel / workers / experiments ------------------------------------

int CmdJobs(Client& c, const std::string& experiment, const std::string& state,
            const std::string& kind, int limit, const std::string& page_token) {
  v1::ListJobsRequest req;
  req.set_experiment(experiment);
  req.set_kind(kind);
  req.set_page_size(limit);
  req.set_page_token(page_token);
  if (!state.empty()) {
    v1::JobState s;
    if (!ParseState(state, &s)) {
      return Fail(Status::InvalidArgument("--state must be one of pending, leased, running, "
                                          "succeeded, failed, cancelled"), "jobs");
    }
    req.set_state(s);
  }
  v1::ListJobsResponse resp;
  grpc::Status st = c.jobs().ListJobs(c.Ctx().get(), req, &resp);
  if (!st.ok()) return Fail(st, "jobs");
  std::vector<std::vector<std::string>> cells;
  for (const auto& j : resp.jobs()) {
    std::string note = j.state() == v1::JOB_STATE_PENDING ? j.pending_reason()
                       : j.state() == v1::JOB_STATE_FAILED ? j.last_error()
                                                           : j.worker_id();
    cells.push_back({std::to_string(j.id()), j.experiment(), j.spec().kind(), StateName(j.state()),
                     std::to_string(j.attempts()), Ago(j.created_unix_ms()), note});
  }
  std::fputs(FormatTable({"id", "experiment", "kind", "state", "attempts", "created", "worker / reason"},
                         cells).c_str(), stdout);
  std::printf("%d of %lld jobs", resp.jobs_size(), (long long)resp.total_count());
  if (!resp.next_page_token().empty()) std::printf("; next page: --page-token %s", resp.next_page_token().c_str());
  std::printf("\n");
  return 0;
}

namespace {

void PrintJob(const v1::Job& j) {
  std::printf("job %lld  %s  (%s, experiment %s)\n", (long long)j.id(), StateName(j.state()),
              j.spec().kind().c_str(), j.experiment().c_str());
  std::printf("  params:   %s\n", j.spec().params_json().c_str());
  if (!j.pending_reason().empty()) std::printf("  waiting:  %s\n", j.pending_reason().c_str());
  if (!j.worker_id().empty()) std::printf("  worker:   %s\n", j.worker_id().c_str());
  std::printf("  attempts: %d of %d\n", j.attempts(), j.spec().max_attempts());
  if (!j.last_error().empty()) std::printf("  error:    %s\n", j.last_error().c_str());
  if (j.state() == v1::JOB_STATE_RUNNING || j.state() == v1::JOB_STATE_LEASED) {
    std::printf("  progress: %.0f%%\n", j.progress() * 100);
  }
  for (const auto& a : j.attempt_history()) {
    std::printf("  attempt token %lld on %s: %s%s%s\n", (long long)a.fencing_token(),
                a.worker_id().c_str(), a.outcome().empty() ? "live" : a.outcome().c_str(),
                a.error().empty() ? "" : " — ", a.error().c_str());
  }
  for (const auto& m : j.metrics()) {
    std::printf("  %-20s %s %s\n", m.name().c_str(), FormatNumber(m.value()).c_str(), m.unit().c_str());
  }
}

}  // namespace

int CmdShow(Client& c, int64_t id, bool as_json) {
  v1::GetJobRequest req;
  req.set_job_id(id);
  v1::Job j;
  grpc::Status st = c.jobs().GetJob(c.Ctx().get(), req, &j);
  if (!st.ok()) return Fail(st, "show");
  if (as_json) {
    ojson metrics = ojson::object();
    for (const auto& m : j.metrics()) metrics[m.name()] = m.value();
    ojson out = {{"job_id", j.id()}, {"experiment", j.experiment()}, {"kind", j.spec().kind()},
                 {"state", StateName(j.state())},
                 {"params", ojson::parse(j.spec().params_json(), nullptr, false)},
                 {"metrics", metrics}, {"attempts", j.attempts()}, {"worker_id", j.worker_id()},
                 {"last_error", j.last_error()}, {"pending_reason", j.pending_reason()}};
    std::printf("%s\n", out.dump(2).c_str());
    return 0;
  }
  PrintJob(j);
  return 0;
}

int CmdWatch(Client& c, int64_t id) {
  v1::WatchJobRequest req;
  req.set_job_id(id);
  auto ctx = c.StreamCtx();
  auto reader = c.jobs().WatchJob(ctx.get(), req);
  v1::Job j;
  v1::JobState last = v1::JOB_STATE_UNSPECIFIED;
  while (reader->Read(&j)) {
    if (j.state() != last) {
      std::printf("%s job %lld %s%s%s\n", Ago(0).c_str(), (long long)j.id(), StateName(j.state()),
                  j.worker_id().empty() ? "" : " on ", j.worker_id().c_str());
      last = j.state();
    }
    std::fflush(stdout);
  }
  grpc::Status st = reader->Finish();
  if (!st.ok()) return Fail(st, "watch");
  PrintJob(j);
  return j.state() == v1::JOB_STATE_SUCCEEDED ? 0 : 1;
}

int CmdCancel(Client& c, int64_t id, const std::string& experiment) {
  v1::CancelJobRequest req;
  req.set_job_id(id);
  req.set_experiment(experiment);
  v1::CancelJobResponse resp;
  grpc::Status st = c.jobs().CancelJob(c.Ctx().get(), req, &resp);
  if (!st.ok()) return Fail(st, "cancel");
  std::printf("cancelled %lld job(s)\n", (long long)resp.cancelled_count());
  return 0;
}

// Lists a job's artifacts, or writes one (`name`) to `output` ("" or "-": stdout).
int CmdArtifacts(Client& c, int64_t job_id, const std::string& name, const std::string& output) {
  v1::GetArtifactsRequest req;
  req.set_job_id(job_id);
  req.set_name(name);
  req.set_include_content(!name.empty());
  v1::GetArtifactsResponse resp;
  grpc::Status st = c.results().GetArtifacts(c.Ctx().get(), req, &resp);
  if (!st.ok()) return Fail(st, "artifacts");
  if (name.empty()) {
    std::vector<std::vector<std::string>> cells;
    for (const auto& a : resp.artifacts()) {
      cells.push_back({a.name(), a.media_type(), std::to_string(a.size_bytes())});
    }
    std::fputs(FormatTable({"name", "media type", "bytes"}, cells).c_str(), stdout);
    return 0;
  }
  const std::string& content = resp.artifacts(0).content();
  if (output.empty() || output == "-") {
    std::fwrite(content.data(), 1, content.size(), stdout);
    return 0;
  }
  std::FILE* f = std::fopen(output.c_str(), "wb");
  if (f == nullptr || std::fwrite(content.data(), 1, content.size(), f) != content.size() ||
      std::fclose(f) != 0) {
    std::fprintf(stderr, "qlab artifacts: cannot write '%s'\n", output.c_str());
    return 3;
  }
  std::fprintf(stderr, "wrote %zu bytes to %s\n", content.size(), output.c_str());
  return 0;
}

int CmdWorkers(Client& c) {
  v1::ListWorkersResponse resp;
  grpc::Status st = c.workers().ListWorkers(c.Ctx().get(), v1::ListWorkersRequest(), &resp);
  if (!st.ok()) return Fail(st, "workers");
  std::vector<std::vector<std::string>> cells;
  for (const auto& w : resp.workers()) {
    std::string devices, kinds, running;
    for (const auto& d : w.devices()) devices += (devices.empty() ? "" : "; ") + d.name() + " " + d.model();
    for (const auto& k : w.kinds()) kinds += (kinds.empty() ? "" : ",") + k;
    for (auto id : w.running_job_ids()) running += (running.empty() ? "" : ",") + std::to_string(id);
    const std::string status = std::string(w.live() ? "live" : "gone") + (w.draining() ? ", draining" : "");
    cells.push_back({w.worker_id(), status, Ago(w.last_heartbeat_unix_ms()),
                     std::to_string(w.slots()), running, kinds, devices});
  }
  std::fputs(FormatTable({"worker", "status", "last seen", "slots", "running", "kinds", "devices"}, cells).c_str(),
             stdout);
  return 0;
}

int CmdDrainWorker(Client& c, const std::string& worker_id, bool undo) {
  v1::DrainWorkerRequest req;
  req.set_worker_id(worker_id);
  req.set_undo(undo);
  v1::DrainWorkerResponse resp;
  grpc::Status st = c.workers().DrainWorker(c.Ctx().get(), req, &resp);
  if (!st.ok()) return Fail(st, undo ? "workers undrain" : "workers drain");
  if (undo) {
    std::printf("worker %s takes jobs again\n", worker_id.c_str());
  } else {
    std::printf("worker %s is draining: %d running job(s) to finish, no new ones\n", worker_id.c_str(),
                resp.running_jobs());
  }
  return 0;
}

int CmdExperiments(Client& c) {
  v1::ListExperimentsResponse resp;
  grpc::Status st = c.jobs().ListExperiments(c.Ctx().get(), v1::ListExperimentsRequest(), &resp);
  if (!st.ok()) return Fail(st, "experiments");
  std::vector<std::vector<std::string>> cells;
  for (const auto& e : resp.experiments()) {
    cells.push_back({std::to_string(e.id()), e.name(), e.kind(), std::to_string(e.total_jobs()),
                     std::to_string(e.succeeded_jobs()), std::to_string(e.failed_jobs()),
                     std::to_string(e.running_jobs()), std::to_string(e.pending_jobs()),
                     Ago(e.created_unix_ms())});
  }
  std::fputs(FormatTable({"id", "name", "kind", "jobs", "succeeded", "failed", "running", "pending", "created"},
                         cells).c_str(), stdout);
  return 0;
}

}  // namespace qlab::cli
