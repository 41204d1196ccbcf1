// qlab: the command-line client. Talks to qlab-server over gRPC only (it never opens the
// database) and links neither LibTorch nor CUDA, so it starts instantly.
//
// Exit codes: 0 success; 1 an experiment waited on did not fully succeed; 2 bad input
// (INVALID_ARGUMENT, NOT_FOUND, ALREADY_EXISTS, a bad flag or file); 3 the server could not
// be reached or failed.
#include <CLI/CLI.hpp>
#include <grpcpp/grpcpp.h>

#include <chrono>
#include <cstdio>
#include <iostream>
#include <map>
#include <set>
#include <thread>

#include <nlohmann/json.hpp>

#include "cli/sweep_file.h"
#include "cli/table.h"
#include "common/results_csv.h"
#include "evaluators/latency/nb201.h"
#include "qlab/v1/job_service.grpc.pb.h"
#include "qlab/v1/result_service.grpc.pb.h"
#include "qlab/v1/worker_service.grpc.pb.h"

namespace qlab::cli {
namespace {

using nlohmann::json;
using ojson = nlohmann::ordered_json;

int ExitFor(grpc::StatusCode code) {
  switch (code) {
    case grpc::OK: return 0;
    case grpc::INVALID_ARGUMENT:
    case grpc::NOT_FOUND:
    case grpc::ALREADY_EXISTS:
    case grpc::FAILED_PRECONDITION:
    case grpc::OUT_OF_RANGE: return 2;
    default: return 3;
  }
}

int Fail(const grpc::Status& st, const std::string& what) {
  std::fprintf(stderr, "qlab %s: %s\n", what.c_str(),
               st.error_code() == grpc::UNAVAILABLE
                   ? ("cannot reach the server (" + st.error_message() + ")").c_str()
                   : st.error_message().c_str());
  return ExitFor(st.error_code());
}

int Fail(const Status& st, const std::string& what) {
  std::fprintf(stderr, "qlab %s: %s\n", what.c_str(), st.message().c_str());
  return st.code() == StatusCode::kInvalidArgument || st.code() == StatusCode::kNotFound ? 2 : 3;
}

const char* StateName(v1::JobState s) {
  switch (s) {
    case v1::JOB_STATE_PENDING: return "PENDING";
    case v1::JOB_STATE_LEASED: return "LEASED";
    case v1::JOB_STATE_RUNNING: return "RUNNING";
    case v1::JOB_STATE_SUCCEEDED: return "SUCCEEDED";
    case v1::JOB_STATE_FAILED: return "FAILED";
    case v1::JOB_STATE_CANCELLED: return "CANCELLED";
    default: return "UNSPECIFIED";
  }
}

bool ParseState(const std::string& name, v1::JobState* out) {
  for (int s = 1; s <= 6; ++s) {
    std::string n = StateName(static_cast<v1::JobState>(s));
    std::string lower;
    for (char c : n) lower += static_cast<char>(std::tolower(c));
    if (name == n || name == lower) {
      *out = static_cast<v1::JobState>(s);
      return true;
    }
  }
  return false;
}

std::string ParamText(const json& v) { return v.is_string() ? v.get<std::string>() : v.dump(); }

struct Client {
  std::shared_ptr<grpc::Channel> channel;
  std::unique_ptr<v1::JobService::Stub> jobs;
  std::unique_ptr<v1::ResultService::Stub> results;
  std::unique_ptr<v1::WorkerService::Stub> workers;
  explicit Client(const std::string& address) {
    grpc::ChannelArguments args;
    args.SetMaxReceiveMessageSize(256 << 20);
    channel = grpc::CreateCustomChannel(address, grpc::InsecureChannelCredentials(), args);
    jobs = v1::JobService::NewStub(channel);
    results = v1::ResultService::NewStub(channel);
    workers = v1::WorkerService::NewStub(channel);
  }
};

std::unique_ptr<grpc::ClientContext> Ctx(int seconds = 30) {
  auto ctx = std::make_unique<grpc::ClientContext>();
  ctx->set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(seconds));
  return ctx;
}

// ---- results ----------------------------------------------------------------------------------

struct ResultTable {
  std::vector<v1::ResultRow> rows;
  std::vector<std::string> param_keys;   // params that differ between rows, first-seen order
  std::vector<std::string> metric_names; // every metric, first-seen order
};

StatusOr<std::vector<v1::ResultRow>> FetchResults(Client& c, const std::string& experiment,
                                                  const std::string& filter) {
  std::vector<v1::ResultRow> rows;
  std::string token;
  do {
    v1::QueryResultsRequest req;
    req.set_experiment(experiment);
    req.set_page_token(token);
    req.set_filter(filter);
    v1::QueryResultsResponse resp;
    grpc::Status st = c.results->QueryResults(Ctx(120).get(), req, &resp);
    if (!st.ok()) {
      if (st.error_code() == grpc::NOT_FOUND) return Status::NotFound(st.error_message());
      if (st.error_code() == grpc::INVALID_ARGUMENT) return Status::InvalidArgument(st.error_message());
      return Status::Unavailable("cannot reach the server (" + st.error_message() + ")");
    }
    for (auto& r : *resp.mutable_rows()) rows.push_back(std::move(r));
    token = resp.next_page_token();
  } while (!token.empty());
  return rows;
}

ResultTable BuildTable(std::vector<v1::ResultRow> rows, bool all_params) {
  ResultTable t;
  t.rows = std::move(rows);
  std::map<std::string, std::set<std::string>> values;
  std::vector<std::string> order;
  std::set<std::string> seen_metrics;
  for (const auto& r : t.rows) {
    json p = json::parse(r.params_json(), nullptr, false);
    if (p.is_object()) {
      for (const auto& [k, v] : p.items()) {
        if (!values.count(k)) order.push_back(k);
        values[k].insert(v.dump());
      }
    }
    for (const auto& m : r.metrics()) {
      if (seen_metrics.insert(m.name()).second) t.metric_names.push_back(m.name());
    }
  }
  for (const auto& k : order) {
    if (all_params || values[k].size() > 1 || t.rows.size() == 1) t.param_keys.push_back(k);
  }
  return t;
}

const v1::Metric* FindMetric(const v1::ResultRow& r, const std::string& name) {
  for (const auto& m : r.metrics()) {
    if (m.name() == name) return &m;
  }
  return nullptr;
}

int CmdResults(Client& c, const std::string& experiment, const std::string& filter, bool as_json,
               bool as_csv, const std::string& sort_by, const std::vector<std::string>& only_metrics) {
  auto rows = FetchResults(c, experiment, filter);
  if (!rows.ok()) return Fail(rows.status(), "results");
  if (!sort_by.empty()) {
    std::stable_sort(rows->begin(), rows->end(), [&](const auto& a, const auto& b) {
      const v1::Metric* ma = FindMetric(a, sort_by);
      const v1::Metric* mb = FindMetric(b, sort_by);
      if (!ma || !mb) return ma != nullptr;
      return ma->value() < mb->value();
    });
  }
  if (as_json) {
    ojson out = ojson::array();
    for (const auto& r : *rows) {
      ojson metrics = ojson::object();
      for (const auto& m : r.metrics()) metrics[m.name()] = m.value();
      ojson row = {{"job_id", r.job_id()},
                   {"experiment", r.experiment()},
                   {"kind", r.kind()},
                   {"state", StateName(r.state())},
                   {"params", ojson::parse(r.params_json(), nullptr, false)},
                   {"metrics", metrics}};
      if (!r.last_error().empty() && r.state() == v1::JOB_STATE_FAILED) row["error"] = r.last_error();
      out.push_back(std::move(row));
    }
    std::printf("%s\n", out.dump(2).c_str());
    return 0;
  }
  if (as_csv) {
    std::vector<ResultLine> lines;
    for (const auto& r : *rows) {
      ResultLine line{r.job_id(), r.experiment(), r.kind(), StateName(r.state()), r.params_json(), {}};
      for (const auto& m : r.metrics()) line.metrics.emplace_back(m.name(), m.value());
      lines.push_back(std::move(line));
    }
    std::fputs(ResultsCsv(lines).c_str(), stdout);
    return 0;
  }
  ResultTable t = BuildTable(std::move(rows).value(), /*all_params=*/false);
  if (!only_metrics.empty()) t.metric_names = only_metrics;
  std::vector<std::string> header = {"job_id", "state"};
  header.insert(header.end(), t.param_keys.begin(), t.param_keys.end());
  header.insert(header.end(), t.metric_names.begin(), t.metric_names.end());
  std::vector<std::vector<std::string>> cells;
  for (const auto& r : t.rows) {
    std::vector<std::string> line = {std::to_string(r.job_id()), StateName(r.state())};
    json p = json::parse(r.params_json(), nullptr, false);
    for (const auto& k : t.param_keys) line.push_back(p.is_object() && p.contains(k) ? ParamText(p[k]) : "");
    for (const auto& name : t.metric_names) {
      const v1::Metric* m = FindMetric(r, name);
      line.push_back(m ? FormatShort(m->value()) : "");
    }
    cells.push_back(std::move(line));
  }
  std::fputs(FormatTable(header, cells).c_str(), stdout);
  return 0;
}

int CmdPareto(Client& c, const std::string& experiment, const std::string& filter,
              const std::string& x, const std::string& y, const std::string& x_dir,
              const std::string& y_dir, bool as_json, bool all_points) {
  v1::ParetoRequest req;
  req.set_experiment(experiment);
  req.set_filter(filter);
  req.set_x_metric(x);
  req.set_y_metric(y);
  auto dir = [](const std::string& d) {
    if (d == "max") return v1::ParetoRequest::DIRECTION_MAXIMIZE;
    if (d == "min") return v1::ParetoRequest::DIRECTION_MINIMIZE;
    return v1::ParetoRequest::DIRECTION_UNSPECIFIED;
  };
  req.set_x_direction(dir(x_dir));
  req.set_y_direction(dir(y_dir));
  v1::ParetoResponse resp;
  grpc::Status st = c.results->Pareto(Ctx(120).get(), req, &resp);
  if (!st.ok()) return Fail(st, "pareto");
  std::vector<std::string> varying;
  {
    std::map<std::string, std::set<std::string>> values;
    std::vector<std::string> order;
    for (const auto& p : resp.points()) {
      json j = json::parse(p.params_json(), nullptr, false);
      if (!j.is_object()) continue;
      for (const auto& [k, v] : j.items()) {
        if (!values.count(k)) order.push_back(k);
        values[k].insert(v.dump());
      }
    }
    for (const auto& k : order) {
      if (values[k].size() > 1) varying.push_back(k);
    }
  }
  if (as_json) {
    ojson out = ojson::array();
    for (const auto& p : resp.points()) {
      if (!all_points && !p.on_frontier()) continue;
      out.push_back({{"job_id", p.job_id()}, {x, p.x()}, {y, p.y()}, {"on_frontier", p.on_frontier()},
                     {"params", ojson::parse(p.params_json(), nullptr, false)}});
    }
    std::printf("%s\n", out.dump(2).c_str());
    return 0;
  }
  std::vector<std::string> header = {"job_id"};
  header.insert(header.end(), varying.begin(), varying.end());
  header.push_back(x + (resp.x_maximized() ? " (max)" : " (min)"));
  header.push_back(y + (resp.y_maximized() ? " (max)" : " (min)"));
  if (all_points) header.push_back("frontier");
  std::vector<std::vector<std::string>> cells;
  int frontier = 0;
  for (const auto& p : resp.points()) {
    frontier += p.on_frontier();
    if (!all_points && !p.on_frontier()) continue;
    std::vector<std::string> line = {std::to_string(p.job_id())};
    json j = json::parse(p.params_json(), nullptr, false);
    for (const auto& k : varying) line.push_back(j.is_object() && j.contains(k) ? ParamText(j[k]) : "");
    line.push_back(FormatShort(p.x()));
    line.push_back(FormatShort(p.y()));
    if (all_points) line.push_back(p.on_frontier() ? "*" : "");
    cells.push_back(std::move(line));
  }
  std::printf("Pareto frontier of %s: %d of %d points (%s vs %s)\n", experiment.c_str(), frontier,
              resp.points_size(), y.c_str(), x.c_str());
  std::fputs(FormatTable(header, cells).c_str(), stdout);
  return 0;
}

// ---- submit / wait ----------------------------------------------------------------------------

int WaitForExperiment(Client& c, const std::string& name, bool quiet) {
  std::string last;
  for (;;) {
    v1::GetExperimentRequest req;
    req.set_name(name);
    v1::Experiment e;
    grpc::Status st = c.jobs->GetExperiment(Ctx().get(), req, &e);
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

int CmdSubmit(Client& c, const std::string& file, const std::string& name, bool wait,
              bool dry_run, bool quiet) {
  auto sweep = ReadSweepFile(file);
  if (!sweep.ok()) return Fail(sweep.status(), "submit");
  if (!name.empty()) {
    auto j = ojson::parse(*sweep, nullptr, false);
    if (!j.is_object()) return Fail(Status::InvalidArgument("sweep must be a mapping"), "submit");
    j["name"] = name;
    *sweep = j.dump();
  }
  v1::SubmitExperimentRequest req;
  req.set_sweep_json(*sweep);
  req.set_dry_run(dry_run);
  const char* user = std::getenv("USER");
  req.set_owner(user ? user : "");
  v1::SubmitExperimentResponse resp;
  grpc::Status st = c.jobs->SubmitExperiment(Ctx(300).get(), req, &resp);
  if (!st.ok()) return Fail(st, "submit");
  if (dry_run) {
    std::printf("experiment %s: %lld jobs (dry run, nothing stored)\n", resp.name().c_str(),
                (long long)resp.job_count());
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

// ---- jobs / show / watch / cancel / workers / experiments ------------------------------------

std::string Ago(int64_t unix_ms) {
  if (unix_ms == 0) return "";
  int64_t now = std::chrono::duration_cast<std::chrono::milliseconds>(
                    std::chrono::system_clock::now().time_since_epoch()).count();
  double s = (now - unix_ms) / 1000.0;
  char buf[32];
  if (s < 120) std::snprintf(buf, sizeof(buf), "%.0fs ago", s);
  else if (s < 7200) std::snprintf(buf, sizeof(buf), "%.0fm ago", s / 60);
  else std::snprintf(buf, sizeof(buf), "%.1fh ago", s / 3600);
  return buf;
}

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
  grpc::Status st = c.jobs->ListJobs(Ctx().get(), req, &resp);
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

int CmdShow(Client& c, int64_t id, bool as_json) {
  v1::GetJobRequest req;
  req.set_job_id(id);
  v1::Job j;
  grpc::Status st = c.jobs->GetJob(Ctx().get(), req, &j);
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
  grpc::ClientContext ctx;
  auto reader = c.jobs->WatchJob(&ctx, req);
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
  grpc::Status st = c.jobs->CancelJob(Ctx().get(), req, &resp);
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
  grpc::Status st = c.results->GetArtifacts(Ctx().get(), req, &resp);
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
  grpc::Status st = c.workers->ListWorkers(Ctx().get(), v1::ListWorkersRequest(), &resp);
  if (!st.ok()) return Fail(st, "workers");
  std::vector<std::vector<std::string>> cells;
  for (const auto& w : resp.workers()) {
    std::string devices, kinds, running;
    for (const auto& d : w.devices()) devices += (devices.empty() ? "" : "; ") + d.name() + " " + d.model();
    for (const auto& k : w.kinds()) kinds += (kinds.empty() ? "" : ",") + k;
    for (auto id : w.running_job_ids()) running += (running.empty() ? "" : ",") + std::to_string(id);
    cells.push_back({w.worker_id(), w.live() ? "live" : "gone", Ago(w.last_heartbeat_unix_ms()),
                     std::to_string(w.slots()), running, kinds, devices});
  }
  std::fputs(FormatTable({"worker", "status", "last seen", "slots", "running", "kinds", "devices"}, cells).c_str(),
             stdout);
  return 0;
}

int CmdExperiments(Client& c) {
  v1::ListExperimentsResponse resp;
  grpc::Status st = c.jobs->ListExperiments(Ctx().get(), v1::ListExperimentsRequest(), &resp);
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

int CmdDatasetExport(Client& c, const std::string& space, const std::string& device, int batch,
                     const std::string& experiment, const std::string& format, bool samples) {
  if (format != "csv" && format != "json") {
    return Fail(Status::InvalidArgument("--format must be csv or json"), "dataset export");
  }
  v1::ExportDatasetRequest req;
  req.set_space(space);
  req.set_device(device);
  req.set_batch(batch);
  req.set_experiment(experiment);
  req.set_include_samples(samples);
  grpc::ClientContext ctx;
  auto reader = c.results->ExportDataset(&ctx, req);
  v1::DatasetRow row;
  const bool csv = format == "csv";
  std::vector<std::string> header = {"arch_index", "arch", "arch_key", "device", "batch",
                                     "median_us", "p10_us", "p90_us", "mean_us", "min_us", "cv",
                                     "n", "unstable", "job_id"};
  if (samples) header.push_back("samples_us");
  if (csv) std::fputs(CsvLine(header).c_str(), stdout);
  bool first = true;
  if (!csv) std::fputs("[", stdout);
  long rows = 0;
  while (reader->Read(&row)) {
    ++rows;
    if (csv) {
      std::vector<std::string> f = {std::to_string(row.arch_index()), row.arch(), row.arch_key(),
                                    row.device(), std::to_string(row.batch()),
                                    FormatNumber(row.median_us()), FormatNumber(row.p10_us()),
                                    FormatNumber(row.p90_us()), FormatNumber(row.mean_us()),
                                    FormatNumber(row.min_us()), FormatNumber(row.cv()),
                                    std::to_string(row.n()), row.unstable() ? "true" : "false",
                                    std::to_string(row.job_id())};
      if (samples) {
        std::string list;
        for (double v : row.samples_us()) list += (list.empty() ? "" : " ") + FormatNumber(v);
        f.push_back(list);
      }
      std::fputs(CsvLine(f).c_str(), stdout);
    } else {
      ojson o = {{"arch_index", row.arch_index()}, {"arch", row.arch()}, {"arch_key", row.arch_key()},
                 {"device", row.device()}, {"batch", row.batch()}, {"median_us", row.median_us()},
                 {"p10_us", row.p10_us()}, {"p90_us", row.p90_us()}, {"mean_us", row.mean_us()},
                 {"min_us", row.min_us()}, {"cv", row.cv()}, {"n", row.n()},
                 {"unstable", row.unstable()}, {"job_id", row.job_id()}};
      if (samples) o["samples_us"] = std::vector<double>(row.samples_us().begin(), row.samples_us().end());
      std::printf("%s\n  %s", first ? "" : ",", o.dump().c_str());
      first = false;
    }
  }
  if (!csv) std::fputs(rows ? "\n]\n" : "]\n", stdout);
  grpc::Status st = reader->Finish();
  if (!st.ok()) return Fail(st, "dataset export");
  std::fflush(stdout);  // the count follows the rows even when both streams share one pipe
  std::fprintf(stderr, "%ld rows\n", rows);
  return 0;
}

int CmdNasArch(const std::string& space, int64_t index, const std::string& arch, bool index_set) {
  if (space != "nb201") {
    return Fail(Status::InvalidArgument("--space '" + space + "' has no index; only nb201"), "nas arch");
  }
  if (index_set == !arch.empty()) {
    return Fail(Status::InvalidArgument("give exactly one of --index and --arch"), "nas arch");
  }
  if (index_set) {
    auto s = nas::Nb201ArchString(static_cast<int>(index));
    if (!s.ok()) return Fail(s.status(), "nas arch");
    std::printf("%s\n", s->c_str());
  } else {
    auto i = nas::Nb201IndexOf(arch);
    if (!i.ok()) return Fail(i.status(), "nas arch");
    std::printf("%d\n", *i);
  }
  return 0;
}

}  // namespace
}  // namespace qlab::cli

int main(int argc, char** argv) {
  using namespace qlab::cli;
  CLI::App app{"qlab: submit and inspect low-bit datatype and hardware-aware NN experiments"};
  app.require_subcommand(1);
  std::string server = "127.0.0.1:7070";
  app.add_option("--server", server, "coordinator gRPC address HOST:PORT")
      ->envname("QLAB_SERVER")->capture_default_str();

  std::string file, name, experiment, state, kind, sort_by, filter, x, y, x_dir = "auto", y_dir = "auto",
                                                                   page_token, space = "nb201", arch;
  bool wait = false, dry_run = false, quiet = false, as_json = false, as_csv = false, all = false;
  int limit = 50;
  int64_t job_id = 0, index = 0;

  auto* submit = app.add_subcommand("submit", "submit a sweep file (YAML or JSON)");
  submit->add_option("file", file, "sweep file")->required();
  submit->add_option("--name", name, "experiment name (overrides the file's)");
  submit->add_flag("--wait", wait, "wait until every job finished; exit 0 if all succeeded, 1 otherwise");
  submit->add_flag("--dry-run", dry_run, "validate and count the jobs; store nothing");
  submit->add_flag("--quiet", quiet, "no progress lines while waiting");

  auto* jobs = app.add_subcommand("jobs", "list jobs, newest first");
  jobs->add_option("--experiment", experiment);
  jobs->add_option("--state", state, "pending|leased|running|succeeded|failed|cancelled");
  jobs->add_option("--kind", kind);
  jobs->add_option("--limit", limit, "rows per page (1..1000)")->check(CLI::Range(1, 1000));
  jobs->add_option("--page-token", page_token);

  auto* show = app.add_subcommand("show", "one job with its attempts and metrics");
  show->add_option("job_id", job_id)->required();
  show->add_flag("--json", as_json);

  auto* watch = app.add_subcommand("watch", "follow a job until it finishes");
  watch->add_option("job_id", job_id)->required();

  auto* cancel = app.add_subcommand("cancel", "cancel a job or a whole experiment");
  cancel->add_option("job_id", job_id);
  cancel->add_option("--experiment", experiment);

  auto* results = app.add_subcommand("results", "results of an experiment");
  results->add_option("--experiment", experiment)->required();
  auto* fmt = results->add_option_group("format");
  fmt->add_flag("--json", as_json, "JSON array, one object per job");
  fmt->add_flag("--csv", as_csv, "CSV with params.* and metrics.* columns");
  fmt->require_option(0, 1);
  results->add_option("--sort", sort_by, "sort rows by this metric, ascending");
  std::vector<std::string> only_metrics;
  results->add_option("--metrics", only_metrics, "table columns: these metrics only, in this order")
      ->delimiter(',');
  results->add_option("--filter", filter,
                      "only jobs matching, e.g. \"datatype in (e2m1, nf4) and mse < 0.01\"");

  auto* pareto = app.add_subcommand("pareto", "Pareto frontier over two metrics of an experiment");
  pareto->add_option("--experiment", experiment)->required();
  pareto->add_option("--x", x, "x metric")->default_val("bits_per_weight");
  pareto->add_option("--y", y, "y metric")->default_val("mse");
  pareto->add_option("--x-dir", x_dir, "min|max|auto (auto: the metric's own direction)");
  pareto->add_option("--y-dir", y_dir, "min|max|auto");
  pareto->add_flag("--all", all, "also print dominated points");
  pareto->add_option("--filter", filter, "only jobs matching, e.g. \"distribution = student_t\"");
  pareto->add_flag("--json", as_json);

  auto* artifacts = app.add_subcommand(
      "artifacts", "files a job stored (a predictor's predictor.json): list, or --get one");
  std::string artifact_name, artifact_output;
  artifacts->add_option("job_id", job_id)->required();
  artifacts->add_option("--get", artifact_name, "write this artifact's bytes");
  artifacts->add_option("-o,--output", artifact_output, "to this file (default: stdout)");

  app.add_subcommand("workers", "workers, their devices and running jobs");
  app.add_subcommand("experiments", "experiments with job counts");

  auto* dataset = app.add_subcommand("dataset", "latency datasets");
  auto* dataset_export = dataset->add_subcommand(
      "export", "one row per measured architecture: index, string, device, batch, median, p10, "
                "p90, CV, n");
  std::string export_space = "nb201", export_device, format = "csv";
  int export_batch = 0;
  bool export_samples = false;
  dataset_export->add_option("--space", export_space, "nb201|fbnet")->capture_default_str();
  dataset_export->add_option("--device", export_device,
                             "device as stored, a glob (\"cuda:*H100*\") or a class (cpu, cuda)");
  dataset_export->add_option("--batch", export_batch, "only this batch size (0: all)");
  dataset_export->add_option("--experiment", experiment, "only this experiment");
  dataset_export->add_option("--format", format, "csv|json")->capture_default_str();
  dataset_export->add_flag("--samples", export_samples, "include the raw samples");
  dataset->require_subcommand(1);

  auto* nas = app.add_subcommand("nas", "NAS search-space tools (no server needed)");
  auto* nas_arch = nas->add_subcommand("arch", "NB201 index <-> architecture string");
  nas_arch->add_option("--space", space)->capture_default_str();
  auto* index_opt = nas_arch->add_option("--index", index, "benchmark index 0..15624");
  nas_arch->add_option("--arch", arch, "architecture string |op~0|+|op~0|op~1|+|...|");
  nas->require_subcommand(1);

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    int code = app.exit(e);
    return code == 0 ? 0 : 2;
  }
  if (nas->parsed()) return CmdNasArch(space, index, arch, index_opt->count() > 0);

  Client client(server);
  if (submit->parsed()) return CmdSubmit(client, file, name, wait, dry_run, quiet);
  if (jobs->parsed()) return CmdJobs(client, experiment, state, kind, limit, page_token);
  if (show->parsed()) return CmdShow(client, job_id, as_json);
  if (watch->parsed()) return CmdWatch(client, job_id);
  if (cancel->parsed()) {
    if ((job_id > 0) == !experiment.empty()) {
      std::fprintf(stderr, "qlab cancel: give a job id or --experiment NAME, not both\n");
      return 2;
    }
    return CmdCancel(client, job_id, experiment);
  }
  if (results->parsed()) return CmdResults(client, experiment, filter, as_json, as_csv, sort_by, only_metrics);
  if (pareto->parsed()) return CmdPareto(client, experiment, filter, x, y, x_dir, y_dir, as_json, all);
  if (app.got_subcommand("workers")) return CmdWorkers(client);
  if (artifacts->parsed()) return CmdArtifacts(client, job_id, artifact_name, artifact_output);
  if (dataset_export->parsed()) {
    return CmdDatasetExport(client, export_space, export_device, export_batch, experiment, format,
                            export_samples);
  }
  if (app.got_subcommand("experiments")) return CmdExperiments(client);
  return 2;
}
