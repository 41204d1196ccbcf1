// The HTTP API's job routes: the jobs list, one job with its attempts, metrics and latency
// sets, its artifacts, and its attempts' logs (docs/http-api.md).
#include <httplib.h>

#include <memory>

#include "common/text_format.h"
#include "server/http_common.h"

namespace qlab::server {

void RegisterJobRoutes(httplib::Server& http, Scheduler* scheduler, storage::JobStore* store) {
  http.Get("/api/v1/jobs", [store, scheduler](const httplib::Request& req, httplib::Response& res) {
    auto state = StateParam(req);
    if (!state.ok()) return ReplyError(res, state.status());
    auto limit = IntParam(req, "limit", 100, 1, 1000);
    if (!limit.ok()) return ReplyError(res, limit.status());
    auto before = IntParam(req, "before", 0, 0, std::numeric_limits<int64_t>::max());
    if (!before.ok()) return ReplyError(res, before.status());
    storage::JobFilter filter{req.get_param_value("experiment"), *state, req.get_param_value("kind"),
                              req.get_param_value("filter")};
    const std::string format = req.get_param_value("format");
    if (format == "csv" || format == "json") {
      // An export: every matching job, newest first, no cap, written a page at a time as it is
      // read (memory stays flat whatever the count). A bad filter is refused before any byte.
      auto first = store->ListJobs(filter, *before, 1);
      if (!first.ok()) return ReplyError(res, first.status());
      const bool json = format == "json";
      if (!json) res.set_header("Content-Disposition", "attachment; filename=\"jobs.csv\"");
      struct Cursor {
        int64_t before;
        bool started = false, done = false, any = false;
      };
      auto cursor = std::make_shared<Cursor>(Cursor{*before});
      res.set_chunked_content_provider(
          json ? "application/json" : "text/csv; charset=utf-8",
          [store, scheduler, filter, json, cursor](size_t, httplib::DataSink& sink) {
            std::string chunk;
            if (!cursor->started) {
              cursor->started = true;
              chunk = json ? "[" : CsvLine({"job_id", "experiment", "kind", "state", "attempts",
                                             "worker_id", "created_unix_ms", "started_unix_ms",
                                             "finished_unix_ms", "last_error", "params"});
            }
            if (cursor->done) {
              sink.done();
              return true;
            }
            auto page = store->ListJobs(filter, cursor->before, 1000);
            if (!page.ok()) return false;  // the body ends short: an incomplete transfer
            for (const auto& j : *page) {
              if (json) {
                if (cursor->any) chunk += ',';
                cursor->any = true;
                chunk += JobJson(j, scheduler).dump(-1, ' ', false, ojson::error_handler_t::replace);
              } else {
                chunk += CsvLine({std::to_string(j.id), j.experiment, j.spec.kind,
                                  storage::JobStateName(j.state), std::to_string(j.attempts),
                                  j.worker_id, std::to_string(j.created_unix_ms),
                                  std::to_string(j.started_unix_ms),
                                  std::to_string(j.finished_unix_ms), j.last_error,
                                  j.spec.params_json});
              }
            }
            if (page->empty()) {
              cursor->done = true;
              if (json) chunk += ']';
            } else {
              cursor->before = page->back().id;
            }
            if (!chunk.empty() && !sink.write(chunk.data(), chunk.size())) return false;
            return true;
          });
      return;
    }
    auto jobs = store->ListJobs(filter, *before, static_cast<int>(*limit) + 1);
    if (!jobs.ok()) return ReplyError(res, jobs.status());
    // Counting stops at 10,000: past that a page shows "10,000+" and the count stays cheap.
    bool capped = false;
    auto total = store->CountJobsUpTo(filter, 10000, &capped);
    if (!total.ok()) return ReplyError(res, total.status());
    const bool more = static_cast<int64_t>(jobs->size()) > *limit;
    if (more) jobs->pop_back();
    std::vector<int64_t> finished;
    for (const auto& j : *jobs) {
      if (j.state == storage::JobState::kSucceeded) finished.push_back(j.id);
    }
    auto metrics = store->MetricsOf(finished);
    if (!metrics.ok()) return ReplyError(res, metrics.status());
    ojson list = ojson::array();
    for (const auto& j : *jobs) {
      ojson row = JobJson(j, scheduler);
      auto m = metrics->find(j.id);
      if (m != metrics->end()) row["metrics"] = MetricsObject(m->second);
      list.push_back(std::move(row));
    }
    ReplyJson(res, {{"jobs", list},
                    {"next_before", more ? ojson(jobs->back().id) : ojson(nullptr)},
                    {"total", *total},
                    {"total_is_lower_bound", capped}});
  });

  http.Get(R"(/api/v1/jobs/(\d+)/artifacts)", [store](const httplib::Request& req,
                                                      httplib::Response& res) {
    auto path_id = PathJobId(req);
    if (!path_id.ok()) return ReplyError(res, path_id.status());
    const int64_t id = *path_id;
    auto job = store->GetJob(id);
    if (!job.ok()) return ReplyError(res, job.status());
    auto artifacts = store->GetArtifacts(id, "", /*with_content=*/false);
    if (!artifacts.ok()) return ReplyError(res, artifacts.status());
    ojson list = ojson::array();
    for (const auto& a : *artifacts) {
      list.push_back({{"name", a.artifact.name}, {"media_type", a.artifact.media_type},
                      {"size_bytes", a.size_bytes}});
    }
    ReplyJson(res, list);
  });
  // The stored bytes, served with their media type (a predictor's model downloads as JSON).
  http.Get(R"(/api/v1/jobs/(\d+)/artifacts/([^/]+))", [store](const httplib::Request& req,
                                                              httplib::Response& res) {
    auto path_id = PathJobId(req);
    if (!path_id.ok()) return ReplyError(res, path_id.status());
    const int64_t id = *path_id;
    const std::string name = req.matches[2];
    auto artifacts = store->GetArtifacts(id, name, /*with_content=*/true);
    if (!artifacts.ok()) return ReplyError(res, artifacts.status());
    if (artifacts->empty()) {
      return ReplyError(res, Status::NotFound("job " + std::to_string(id) + " has no artifact '" +
                                              name + "'"));
    }
    const auto& a = artifacts->front().artifact;
    res.set_header("Content-Disposition", "attachment; filename=\"" + a.name + "\"");
    res.set_content(a.bytes, a.media_type.empty() ? "application/octet-stream" : a.media_type);
  });
  http.Get(R"(/api/v1/jobs/(\d+))", [store, scheduler](const httplib::Request& req,
                                                      httplib::Response& res) {
    auto path_id = PathJobId(req);
    if (!path_id.ok()) return ReplyError(res, path_id.status());
    const int64_t id = *path_id;
    auto job = store->GetJob(id);
    if (!job.ok()) return ReplyError(res, job.status());
    ojson out = JobJson(*job, scheduler);
    if (!job->comparability.context_json.empty()) {
      out["context"] = ParseObject(job->comparability.context_json);
    }
    auto attempts = store->GetAttempts(id);
    if (!attempts.ok()) return ReplyError(res, attempts.status());
    ojson list = ojson::array();
    for (const auto& a : *attempts) {
      list.push_back({{"token", a.token}, {"worker_id", a.worker_id},
                      {"leased_unix_ms", a.leased_unix_ms}, {"started_unix_ms", a.started_unix_ms},
                      {"finished_unix_ms", a.finished_unix_ms},
                      {"lease_expiry_unix_ms", a.lease_expiry_unix_ms}, {"outcome", a.outcome},
                      {"error", a.error}, {"failure_class", a.failure_class},
                      {"log_bytes", a.log_bytes}});
    }
    out["attempts"] = list;
    auto metrics = store->GetMetrics(id);
    if (!metrics.ok()) return ReplyError(res, metrics.status());
    ojson mlist = ojson::array();
    for (const auto& m : *metrics) {
      mlist.push_back({{"name", m.name}, {"value", m.value}, {"unit", m.unit},
                       {"higher_is_better", m.higher_is_better}});
    }
    out["metrics"] = mlist;
    auto latency = store->GetLatencySamples(id);
    if (!latency.ok()) return ReplyError(res, latency.status());
    ojson llist = ojson::array();
    for (const auto& l : *latency) {
      llist.push_back({{"arch_key", l.arch_key}, {"device", l.device}, {"batch", l.batch},
                       {"median_us", l.median_us}, {"p10_us", l.p10_us}, {"p90_us", l.p90_us},
                       {"mean_us", l.mean_us}, {"cv", l.cv}, {"unstable", l.unstable},
                       {"n", l.samples_us.size()}});
    }
    out["latency"] = llist;
    ReplyJson(res, out);
  });
  // The evaluator's output of one attempt (`attempt`: 1-based, 0 or absent = the latest), as
  // text; which attempt and how many there are come in headers.
  http.Get(R"(/api/v1/jobs/(\d+)/log)", [store](const httplib::Request& req,
                                               httplib::Response& res) {
    auto path_id = PathJobId(req);
    if (!path_id.ok()) return ReplyError(res, path_id.status());
    auto attempt = IntParam(req, "attempt", 0, 0, 1'000'000);
    if (!attempt.ok()) return ReplyError(res, attempt.status());
    auto log = store->GetAttemptLog(*path_id, static_cast<int>(*attempt));
    if (!log.ok()) return ReplyError(res, log.status());
    res.set_header("X-Qlab-Attempt", std::to_string(log->number));
    res.set_header("X-Qlab-Attempts", std::to_string(log->count));
    res.set_content(std::move(log->log), "text/plain; charset=utf-8");
  });
}

}  // namespace qlab::server
