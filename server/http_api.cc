#include "server/http_api.h"

#include <httplib.h>

#include <chrono>
#include <limits>
#include <memory>
#include <mutex>
#include <set>

#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include "common/results_csv.h"
#include "common/text_format.h"
#include "server/http_common.h"
#include "server/http_join.h"
#include "server/join_query.h"
#include "server/compare_query.h"
#include "server/pareto_query.h"
#include "server/results_export.h"

namespace qlab::server {
namespace {

using nlohmann::json;

ojson ExperimentJson(const storage::ExperimentRecord& e) {
  return {{"id", e.id},           {"name", e.name},
          {"kind", e.kind},       {"owner", e.owner},
          {"created_unix_ms", e.created_unix_ms},
          {"tags", ParseObject(e.tags_json)},
          {"total", e.total},     {"pending", e.pending},
          {"running", e.running}, {"succeeded", e.succeeded},
          {"failed", e.failed},   {"cancelled", e.cancelled}};
}

// The API and /metrics need a token; /healthz and the dashboard's static files (which hold
// no data: the page asks for a token and sends it with its API calls) do not.
Status AuthorizeHttp(const TokenAuth& auth, const httplib::Request& req) {
  const bool api = req.path.rfind("/api/", 0) == 0;
  if (!api && req.path != "/metrics") return Status::Ok();
  // Workers read artifacts as they do over gRPC (GetArtifacts).
  const bool artifacts = req.path.find("/artifacts") != std::string::npos;
  auto principal = auth.Check(req.get_header_value("Authorization"),
                              artifacts ? Access::kReadOrWork : Access::kRead, "read",
                              std::string_view(req.path).substr(0, 200));
  return principal.status();
}

constexpr const char* kBuiltInPage = R"html(<!doctype html>
<html><head><meta charset="utf-8"><title>qlab</title></head>
<body><h1>qlab</h1><p>The dashboard's files were not found (start qlab-server with
--web-root web). JSON: <a href="/api/v1/experiments">/api/v1/experiments</a>,
<a href="/api/v1/workers">/api/v1/workers</a>; metrics: <a href="/metrics">/metrics</a>.</p>
</body></html>)html";

}  // namespace

void RegisterHttpRoutes(httplib::Server& http, Scheduler* scheduler, storage::JobStore* store,
                        const HttpApiOptions& options) {
  // Brotli at the library's fixed quality 11 costs 20x gzip's time for our large JSON and the
  // chart bundle (17 s vs 1 s for a 100k-point Pareto); offer browsers gzip only.
  const TokenAuth* auth = options.auth;
  http.set_pre_routing_handler([auth](const httplib::Request& req, httplib::Response& res) {
    if (auth != nullptr) {
      Status denied = AuthorizeHttp(*auth, req);
      if (!denied.ok()) {
        ReplyError(res, denied);
        return httplib::Server::HandlerResponse::Handled;
      }
    }
    auto it = req.headers.find("Accept-Encoding");
    if (it != req.headers.end() && it->second.find("br") != std::string::npos) {
      const bool gzip = it->second.find("gzip") != std::string::npos;
      auto& headers = const_cast<httplib::Headers&>(req.headers);  // the server owns the request
      headers.erase("Accept-Encoding");
      if (gzip) headers.emplace("Accept-Encoding", "gzip");
    }
    return httplib::Server::HandlerResponse::Unhandled;
  });

  http.Get("/healthz", [](const httplib::Request&, httplib::Response& res) {
    res.set_content("ok\n", "text/plain");
  });

  if (options.render_metrics) {
    auto render = options.render_metrics;
    http.Get("/metrics", [render](const httplib::Request&, httplib::Response& res) {
      res.set_content(render(), "text/plain; version=0.0.4; charset=utf-8");
    });
  }

  // Every open dashboard polls the summary; it is recomputed only when something changed and at
  // most once a second while jobs keep changing.
  struct SummaryCache {
    std::mutex mu;
    int64_t changes = -1;
    std::chrono::steady_clock::time_point at;
    std::string body;
  };
  auto summary_cache = std::make_shared<SummaryCache>();
  http.Get("/api/v1/summary", [scheduler, store, summary_cache](const httplib::Request&,
                                                                 httplib::Response& res) {
    std::lock_guard lock(summary_cache->mu);
    const int64_t changes = scheduler->changes();
    const auto now = std::chrono::steady_clock::now();
    if (changes == summary_cache->changes ||
        (summary_cache->changes >= 0 && now - summary_cache->at < std::chrono::seconds(1))) {
      return res.set_content(summary_cache->body, "application/json");
    }
    auto counts = store->CountByStateAndKind();
    if (!counts.ok()) return ReplyError(res, counts.status());
    auto experiments = store->ListExperiments();
    if (!experiments.ok()) return ReplyError(res, experiments.status());
    ojson jobs = ojson::object();
    for (int s = 1; s <= 6; ++s) jobs[storage::JobStateName(static_cast<storage::JobState>(s))] = 0;
    for (const auto& [key, n] : *counts) {
      jobs[storage::JobStateName(key.first)] = jobs[storage::JobStateName(key.first)].get<int64_t>() + n;
    }
    int live = 0;
    for (const auto& w : scheduler->Workers()) live += w.live;
    summary_cache->body = ojson{{"changes", changes},
                                {"experiments", experiments->size()},
                                {"jobs", jobs},
                                {"workers_live", live}}.dump();
    summary_cache->changes = changes;
    summary_cache->at = now;
    res.set_content(summary_cache->body, "application/json");
  });

  http.Get("/api/v1/experiments", [store](const httplib::Request& req, httplib::Response& res) {
    auto list = store->ListExperiments();
    if (!list.ok()) return ReplyError(res, list.status());
    if (WantsCsv(req)) {
      std::string csv = CsvLine({"id", "name", "kind", "owner", "created_unix_ms", "total",
                                 "pending", "running", "succeeded", "failed", "cancelled"});
      for (const auto& e : *list) {
        csv += CsvLine({std::to_string(e.id), e.name, e.kind, e.owner,
                        std::to_string(e.created_unix_ms), std::to_string(e.total),
                        std::to_string(e.pending), std::to_string(e.running),
                        std::to_string(e.succeeded), std::to_string(e.failed),
                        std::to_string(e.cancelled)});
      }
      return ReplyCsv(res, csv, "experiments.csv");
    }
    ojson out = ojson::array();
    for (const auto& e : *list) out.push_back(ExperimentJson(e));
    ReplyJson(res, out);
  });

  http.Get(R"(/api/v1/experiments/([^/]+))", [store](const httplib::Request& req,
                                                      httplib::Response& res) {
    auto e = store->GetExperiment(req.matches[1], 0);
    if (!e.ok()) return ReplyError(res, e.status());
    ojson out = ExperimentJson(*e);
    out["sweep"] = ParseObject(e->spec_json);
    // Param keys and metric names of the experiment's jobs, for the dashboard's pickers: keys
    // from the first jobs (every job of a sweep has the same keys, give or take a fan-out such
    // as a tensor name), metric names from the store's memory, so that the cost does not grow
    // with the experiment.
    std::vector<std::string> params;
    std::set<std::string> seen_p;
    auto rows = store->QueryResults(e->id, 0, 1000);
    if (!rows.ok()) return ReplyError(res, rows.status());
    for (const auto& r : *rows) {
      ojson p = ParseObject(r.params_json);
      for (const auto& [k, v] : p.items()) {
        if (seen_p.insert(k).second) params.push_back(k);
      }
    }
    std::vector<std::string> metrics = store->ExperimentMetricNames(e->id);
    out["param_keys"] = params;
    out["metric_names"] = metrics;
    ReplyJson(res, out);
  });

  http.Get(R"(/api/v1/studies/([^/]+))", [options](const httplib::Request& req,
                                                    httplib::Response& res) {
    if (!options.study_report) return ReplyError(res, Status::NotFound("no studies here"));
    auto report = options.study_report(req.matches[1]);
    if (!report.ok()) return ReplyError(res, report.status());
    res.set_content(report->dump(), "application/json");
  });

  http.Get(R"(/api/v1/experiments/([^/]+)/results)", [store](const httplib::Request& req,
                                                              httplib::Response& res) {
    if (req.has_param("join") || req.has_param("on")) {
      if (WantsCsv(req)) {
        return ReplyError(res, Status::InvalidArgument("format: a join is answered in JSON only"));
      }
      JoinSpec spec = HttpJoinSpec(req.matches[1], req.get_param_value("join"),
                                   req.get_param_value("on"), req.get_param_value("filter"),
                                   req.get_param_value("keys"));
      auto join = RunJoinQuery(*store, spec);
      if (!join.ok()) return ReplyError(res, join.status());
      return ReplyJson(res, JoinedResultsJson(spec, *join));
    }
    const bool csv = WantsCsv(req);
    auto exporter = ResultsExport::Start(*store, req.matches[1], req.get_param_value("filter"),
                                         csv ? ResultsExport::Format::kCsv
                                             : ResultsExport::Format::kJson);
    if (!exporter.ok()) return ReplyError(res, exporter.status());
    if (csv) {
      res.set_header("Content-Disposition",
                     "attachment; filename=\"" + std::string(req.matches[1]) + "-results.csv\"");
    }
    // Written as it is read, a page of rows per chunk: memory stays flat whatever the size.
    std::shared_ptr<ResultsExport> source = std::move(exporter).value();
    res.set_chunked_content_provider(
        csv ? "text/csv; charset=utf-8" : "application/json",
        [source](size_t, httplib::DataSink& sink) {
          std::string chunk;
          chunk.reserve(320 << 10);
          while (chunk.size() < (256 << 10)) {
            auto more = source->Next(&chunk);
            if (!more.ok()) {
              // Headers are gone by now: end the body short, which the client sees as an
              // incomplete transfer rather than a complete file.
              spdlog::warn("results export stopped: {}", more.status().ToString());
              return false;
            }
            if (!*more) break;
          }
          if (!chunk.empty() && !sink.write(chunk.data(), chunk.size())) return false;
          if (chunk.empty()) sink.done();
          return true;
        });
  });

  http.Get(R"(/api/v1/experiments/([^/]+)/pareto)", [store](const httplib::Request& req,
                                                             httplib::Response& res) {
    auto dir = [&](const char* name) -> StatusOr<ParetoDirection> {
      std::string v = req.get_param_value(name);
      if (v.empty() || v == "auto") return ParetoDirection::kAuto;
      if (v == "min") return ParetoDirection::kMinimize;
      if (v == "max") return ParetoDirection::kMaximize;
      return Status::InvalidArgument(std::string(name) + " must be min, max or auto");
    };
    auto x_dir = dir("x_dir");
    if (!x_dir.ok()) return ReplyError(res, x_dir.status());
    auto y_dir = dir("y_dir");
    if (!y_dir.ok()) return ReplyError(res, y_dir.status());
    ParetoQuery q{req.matches[1], req.get_param_value("x"), req.get_param_value("y"), *x_dir,
                  *y_dir, req.get_param_value("filter")};
    auto max_points = IntParam(req, "max_points", 0, 0, std::numeric_limits<int32_t>::max());
    if (!max_points.ok()) return ReplyError(res, max_points.status());
    q.max_points = *max_points;
    q.keys = req.get_param_value("keys");
    q.include_fallbacks = req.get_param_value("fallbacks") == "include";
    q.whole_answer_limit = kMaxParetoPointsWithoutSampling;
    const bool joined = req.has_param("join") || req.has_param("on");
    if (joined) {
      JoinSpec spec = HttpJoinSpec(q.experiment, req.get_param_value("join"),
                                   req.get_param_value("on"), q.filter);
      q.join = spec.join;
      q.on = spec.on;
      // "join=" alone must be refused, not taken for no join.
      if (Status bad = ValidateJoin(spec); !bad.ok()) return ReplyError(res, bad);
    }
    // The JSON of a front is remembered with the front (a reloaded page re-renders nothing).
    auto memo = ParetoMemo::For(*store, q);
    if (!memo.ok()) return ReplyError(res, memo.status());
    if (*memo) {
      if (auto body = (*memo)->Get("http-json")) {
        res.set_content(*std::static_pointer_cast<const std::string>(body), "application/json");
        return;
      }
    }
    auto result = RunParetoQuery(*store, q);
    if (!result.ok()) return ReplyError(res, result.status());
    const int64_t total_points = result->total_points;
    ojson points = ojson::array();
    for (const auto& p : result->points) {
      points.push_back({{"job_id", p.job_id}, {"x", p.x}, {"y", p.y},
                        {"on_frontier", p.on_frontier}, {"params", ParseObject(p.params_json)},
                        {"key", p.key}});
      if (joined) points.back()["job_id_b"] = p.job_id_b;
    }
    ojson groups = ojson::array();
    for (const auto& g : result->key_groups) {
      groups.push_back({{"key", g.key}, {"points", g.points}, {"summary", g.summary}});
    }
    ojson out = {{"x", q.x_metric}, {"y", q.y_metric}, {"x_maximized", result->x_maximized},
                 {"y_maximized", result->y_maximized}, {"total_points", total_points},
                 {"points", points}, {"key_groups", groups}, {"warning", result->warning},
                 {"excluded_fallbacks", result->excluded_fallbacks}};
    if (joined) AddParetoJoinJson(q, *result, q.max_points, &out);
    ReplyJson(res, out);
    if (*memo) (*memo)->Put("http-json", std::make_shared<const std::string>(res.body));
  });

  RegisterJobRoutes(http, scheduler, store);

  // The regression view (server/compare_query.h): ?a=A&b=B[&threshold_sigma=3][&all=1].
  http.Get("/api/v1/compare", [store](const httplib::Request& req, httplib::Response& res) {
    CompareQuery q{req.get_param_value("a"), req.get_param_value("b"), 0,
                   req.get_param_value("all") == "1" || req.get_param_value("all") == "true"};
    if (req.has_param("threshold_sigma")) {
      const std::string text = req.get_param_value("threshold_sigma");
      char* end = nullptr;
      q.threshold_sigma = std::strtod(text.c_str(), &end);
      if (text.empty() || end == nullptr || *end != '\0') {
        return ReplyError(res, Status::InvalidArgument("threshold_sigma must be a number"));
      }
    }
    auto result = RunCompareQuery(*store, q);
    if (!result.ok()) return ReplyError(res, result.status());
    ReplyJson(res, ojson::parse(result->dump()));
  });

  http.Get("/api/v1/workers", [scheduler, store](const httplib::Request& req, httplib::Response& res) {
    if (WantsCsv(req)) {
      std::string csv = CsvLine({"worker_id", "host", "live", "last_heartbeat_unix_ms", "slots",
                                 "running_job_ids", "kinds", "devices"});
      for (const auto& w : scheduler->Workers()) {
        std::string running;
        for (int64_t id : w.running_job_ids) running += (running.empty() ? "" : " ") + std::to_string(id);
        csv += CsvLine({w.record.id, w.record.host, w.live ? "true" : "false",
                        std::to_string(w.record.last_heartbeat_unix_ms),
                        std::to_string(w.record.slots), running, w.record.kinds_json,
                        w.record.devices_json});
      }
      return ReplyCsv(res, csv, "workers.csv");
    }
    std::vector<int64_t> canary_counts, canary_last_good;
    auto canaries = store->LatestCanaries(&canary_counts, &canary_last_good);
    if (!canaries.ok()) return ReplyError(res, canaries.status());
    ojson out = ojson::array();
    for (const auto& w : scheduler->Workers()) {
      ojson drift = ojson::array();
      for (size_t i = 0; i < canaries->size(); ++i) {
        const auto& c = (*canaries)[i];
        if (c.worker_id != w.record.id) continue;
        drift.push_back({{"device", c.device}, {"canary", c.canary}, {"verdict", c.verdict},
                         {"median_us", c.median_us}, {"baseline_median_us", c.baseline_median_us},
                         {"baseline_spread_us", c.baseline_spread_us}, {"z", c.z},
                         {"quarantined", w.quarantined.count(c.device) > 0},
                         {"measured_unix_ms", c.measured_unix_ms},
                         {"last_good_unix_ms", canary_last_good[i]},
                         {"history", canary_counts[i]}});
      }
      out.push_back({{"worker_id", w.record.id}, {"host", w.record.host},
                     {"devices", ParseObject(w.record.devices_json)},
                     {"kinds", ParseObject(w.record.kinds_json)}, {"slots", w.record.slots},
                     {"live", w.live}, {"draining", w.draining},
                     {"last_heartbeat_unix_ms", w.record.last_heartbeat_unix_ms},
                     {"running_job_ids", w.running_job_ids},
                     {"labels", ParseObject(w.record.labels_json)},
                     {"canaries", drift}});
    }
    ReplyJson(res, out);
  });

  http.Get("/api/v1/latency/devices", [store](const httplib::Request&, httplib::Response& res) {
    auto devices = store->LatencyDevices();
    if (!devices.ok()) return ReplyError(res, devices.status());
    ojson out = ojson::array();
    for (const auto& [device, n] : *devices) out.push_back({{"device", device}, {"count", n}});
    ReplyJson(res, out);
  });

  http.Get("/api/v1/latency", [store](const httplib::Request& req, httplib::Response& res) {
    auto limit = IntParam(req, "limit", 0, 0, std::numeric_limits<int32_t>::max());
    if (!limit.ok()) return ReplyError(res, limit.status());
    std::string space = req.get_param_value("space");
    std::string prefix = space.empty() ? "" : space + ":";
    std::vector<storage::LatencySummary> all;
    int64_t after = 0;
    for (;;) {
      int64_t want = 20000;
      if (*limit > 0) want = std::min<int64_t>(want, *limit - static_cast<int64_t>(all.size()));
      if (want <= 0) break;
      int64_t last = 0;
      auto page = store->ListLatency(req.get_param_value("device"), prefix,
                                     req.get_param_value("experiment"), after,
                                     static_cast<int>(want), &last);
      if (!page.ok()) return ReplyError(res, page.status());
      if (page->empty()) break;
      after = last;
      for (auto& l : *page) all.push_back(std::move(l));
    }
    if (WantsCsv(req)) {
      std::string csv = CsvLine({"job_id", "arch_key", "device", "batch", "median_us", "mean_us",
                                 "p10_us", "p90_us", "cv", "unstable", "n"});
      for (const auto& l : all) {
        csv += CsvLine({std::to_string(l.job_id), l.arch_key, l.device, std::to_string(l.batch),
                        FormatNumber(l.median_us), FormatNumber(l.mean_us), FormatNumber(l.p10_us),
                        FormatNumber(l.p90_us), FormatNumber(l.cv), l.unstable ? "true" : "false",
                        std::to_string(l.samples)});
      }
      return ReplyCsv(res, csv, "latency.csv");
    }
    ojson out = ojson::array();
    for (const auto& l : all) {
      out.push_back({{"job_id", l.job_id}, {"arch_key", l.arch_key}, {"device", l.device},
                     {"batch", l.batch}, {"median_us", l.median_us}, {"mean_us", l.mean_us},
                     {"p10_us", l.p10_us}, {"p90_us", l.p90_us}, {"cv", l.cv},
                     {"unstable", l.unstable}, {"n", l.samples}});
    }
    ReplyJson(res, out);
  });

  if (!options.web_root.empty()) {
    http.set_mount_point("/", options.web_root);
  } else {
    http.Get("/", [](const httplib::Request&, httplib::Response& res) {
      res.set_content(kBuiltInPage, "text/html");
    });
  }
}

}  // namespace qlab::server
