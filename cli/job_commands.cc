// qlab jobs, show, watch, cancel, artifacts, workers, experiments: what is queued, running
// and done, and who runs it.
#include "cli/commands.h"

#include <chrono>
#include <cstdio>
#include <functional>
#include <set>
#include <thread>

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
                       : j.state() == v1::JOB_STATE_FAILED
                           ? (j.failure_class().empty() ? "" : "[" + j.failure_class() + "] ") +
                                 j.last_error()
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
  if (!j.failure_class().empty()) std::printf("  failure:  %s\n", j.failure_class().c_str());
  if (!j.last_error().empty()) std::printf("  error:    %s\n", j.last_error().c_str());
  if (j.state() == v1::JOB_STATE_RUNNING || j.state() == v1::JOB_STATE_LEASED) {
    std::printf("  progress: %.0f%%\n", j.progress() * 100);
  }
  int number = 0;
  for (const auto& a : j.attempt_history()) {
    const std::string outcome = a.outcome().empty() ? "live" : a.outcome();
    std::printf("  attempt %d (token %lld) on %s: %s%s%s%s%s\n", ++number,
                (long long)a.fencing_token(), a.worker_id().c_str(), outcome.c_str(),
                a.failure_class().empty() ? "" : " (", a.failure_class().c_str(),
                a.failure_class().empty() ? "" : ")",
                a.error().empty() ? "" : (" — " + a.error()).c_str());
    if (a.log_bytes() > 0) {
      std::printf("    log: %lld bytes (qlab logs %lld --attempt %d)\n", (long long)a.log_bytes(),
                  (long long)j.id(), number);
    }
  }
  for (const auto& m : j.metrics()) {
    std::printf("  %-20s %s %s\n", m.name().c_str(), FormatNumber(m.value()).c_str(), m.unit().c_str());
  }
  if (!j.comparability_key().empty()) {
    std::printf("  comparability key: %s  (environment %s)\n", j.comparability_key().c_str(),
                j.environment_key().c_str());
    if (!j.backend().empty()) std::printf("  backend:  %s\n", j.backend().c_str());
  }
  if (!j.flag().empty()) std::printf("  FLAGGED:  %s\n", j.flag().c_str());
  if (!j.context_json().empty()) {
    // What the keys hash, one leaf a line: what tells this figure's set-up from another's.
    std::function<void(const json&, const std::string&)> leaves = [&](const json& v, const std::string& at) {
      if (v.is_object()) {
        for (const auto& [k, e] : v.items()) leaves(e, at.empty() ? k : at + "." + k);
      } else {
        std::printf("    %-32s %s\n", at.c_str(), v.is_string() ? v.get<std::string>().c_str() : v.dump().c_str());
      }
    };
    std::printf("  context:\n");
    leaves(json::parse(j.context_json(), nullptr, false), "");
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
                 {"last_error", j.last_error()}, {"failure_class", j.failure_class()},
                 {"pending_reason", j.pending_reason()},
                 {"comparability_key", j.comparability_key()},
                 {"environment_key", j.environment_key()}, {"backend", j.backend()},
                 {"flag", j.flag()},
                 {"context", j.context_json().empty() ? ojson(nullptr)
                                                      : ojson::parse(j.context_json(), nullptr, false)}};
    ojson attempts = ojson::array();
    for (const auto& a : j.attempt_history()) {
      attempts.push_back({{"fencing_token", a.fencing_token()}, {"worker_id", a.worker_id()},
                          {"leased_unix_ms", a.leased_unix_ms()},
                          {"started_unix_ms", a.started_unix_ms()},
                          {"finished_unix_ms", a.finished_unix_ms()}, {"outcome", a.outcome()},
                          {"error", a.error()}, {"failure_class", a.failure_class()},
                          {"log_bytes", a.log_bytes()}});
    }
    out["attempt_history"] = attempts;
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

int CmdLogs(Client& c, int64_t id, int attempt, bool follow) {
  v1::GetJobLogRequest req;
  req.set_job_id(id);
  req.set_attempt(attempt);
  std::string printed;   // of the attempt being followed
  int following = 0;     // its number
  for (;;) {
    v1::GetJobLogResponse resp;
    grpc::Status st = c.jobs().GetJobLog(c.Ctx().get(), req, &resp);
    if (!st.ok()) {
      // Following a job that has not been leased yet: wait for its first attempt.
      if (follow && st.error_code() == grpc::StatusCode::NOT_FOUND &&
          st.error_message().find("has not run yet") != std::string::npos) {
        std::this_thread::sleep_for(std::chrono::milliseconds(500));
        continue;
      }
      return Fail(st, "logs");
    }
    if (resp.attempt() != following) {  // a new attempt (a retry) when following the latest
      if (following != 0) std::printf("\n");
      std::fprintf(stderr, "== job %lld, attempt %d of %d on %s ==\n", (long long)id,
                   resp.attempt(), resp.attempts(), resp.info().worker_id().c_str());
      following = resp.attempt();
      printed.clear();
    }
    const std::string& log = resp.log();
    // The stored log keeps only its last 1 MiB: when its start moved, print what is new after
    // the part already shown.
    size_t from = 0;
    if (log.size() >= printed.size() && log.compare(0, printed.size(), printed) == 0) {
      from = printed.size();
    } else if (!printed.empty()) {
      const size_t overlap = log.rfind(printed.substr(printed.size() > 256 ? printed.size() - 256 : 0));
      from = overlap == std::string::npos ? 0 : overlap + std::min<size_t>(printed.size(), 256);
    }
    std::fwrite(log.data() + from, 1, log.size() - from, stdout);
    std::fflush(stdout);
    printed = log;
    const bool ended = !resp.info().outcome().empty();
    const bool terminal = resp.state() == v1::JOB_STATE_SUCCEEDED ||
                          resp.state() == v1::JOB_STATE_FAILED ||
                          resp.state() == v1::JOB_STATE_CANCELLED;
    if (!follow || (ended && (attempt != 0 || terminal))) {
      if (ended) {
        std::fprintf(stderr, "== attempt %d %s%s%s%s ==\n", resp.attempt(),
                     resp.info().outcome().c_str(),
                     resp.info().failure_class().empty() ? "" : " (",
                     resp.info().failure_class().c_str(),
                     resp.info().failure_class().empty() ? "" : ")");
      }
      return 0;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
  }
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

// Each device's capability matrix: one row per datatype any device lists, one column per device.
int PrintFormats(const v1::ListWorkersResponse& resp) {
  std::vector<std::string> header = {"datatype"};
  std::vector<const v1::Device*> devices;
  std::set<std::string> names;
  for (const auto& w : resp.workers()) {
    for (const auto& d : w.devices()) {
      header.push_back(w.worker_id() + " " + d.name());
      devices.push_back(&d);
      for (const auto& [name, level] : d.formats()) names.insert(name);
    }
  }
  std::vector<std::vector<std::string>> cells;
  for (const auto& name : names) {
    std::vector<std::string> line = {name};
    for (const auto* d : devices) {
      auto it = d->formats().find(name);
      line.push_back(it == d->formats().end() ? "-" : it->second);
    }
    cells.push_back(std::move(line));
  }
  std::fputs(FormatTable(header, cells).c_str(), stdout);
  std::printf("native: a packed kernel runs it (kernel_bench); emulated: simulated in higher "
              "precision (quantize, accuracy); -: not on this device\n");
  return 0;
}

int CmdWorkers(Client& c, bool formats) {
  v1::ListWorkersResponse resp;
  grpc::Status st = c.workers().ListWorkers(c.Ctx().get(), v1::ListWorkersRequest(), &resp);
  if (!st.ok()) return Fail(st, "workers");
  if (formats) return PrintFormats(resp);
  std::vector<std::vector<std::string>> cells;
  for (const auto& w : resp.workers()) {
    std::string devices, kinds, running;
    for (const auto& d : w.devices()) devices += (devices.empty() ? "" : "; ") + d.name() + " " + d.model();
    for (const auto& k : w.kinds()) kinds += (kinds.empty() ? "" : ",") + k;
    for (auto id : w.running_job_ids()) running += (running.empty() ? "" : ",") + std::to_string(id);
    std::string status = std::string(w.live() ? "live" : "gone") + (w.draining() ? ", draining" : "");
    std::string canaries;
    for (const auto& cy : w.canaries()) {
      if (cy.quarantined()) status += ", " + cy.device() + " QUARANTINED";
      char text[160];
      std::snprintf(text, sizeof(text), "%s %s %.0f us (baseline %.0f ± %.0f, %d kept)",
                    cy.device().c_str(), cy.verdict().c_str(), cy.median_us(),
                    cy.baseline_median_us(), cy.baseline_spread_us(), cy.history());
      canaries += (canaries.empty() ? "" : "; ") + std::string(text);
    }
    cells.push_back({w.worker_id(), status, Ago(w.last_heartbeat_unix_ms()),
                     std::to_string(w.slots()), running, kinds, devices, canaries});
  }
  std::fputs(FormatTable({"worker", "status", "last seen", "slots", "running", "kinds", "devices",
                          "drift canary"}, cells).c_str(),
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
