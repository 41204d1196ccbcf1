#include "server/http_api.h"

#include <httplib.h>

#include <nlohmann/json.hpp>

#include "server/matching.h"

namespace qlab::server {
namespace {

using nlohmann::json;

json MetricsJson(const std::vector<Metric>& metrics) {
  json out = json::object();
  for (const auto& m : metrics) out[m.name] = m.value;
  return out;
}

json JobJson(const storage::JobRecord& j, Scheduler* scheduler) {
  json out = {{"job_id", j.id},
              {"experiment", j.experiment},
              {"kind", j.spec.kind},
              {"state", storage::JobStateName(j.state)},
              {"params", json::parse(j.spec.params_json, nullptr, false)},
              {"attempts", j.attempts},
              {"worker_id", j.worker_id},
              {"last_error", j.last_error},
              {"created_unix_ms", j.created_unix_ms},
              {"started_unix_ms", j.started_unix_ms},
              {"finished_unix_ms", j.finished_unix_ms}};
  if (j.state == storage::JobState::kPending) out["pending_reason"] = scheduler->PendingReason(j.id);
  return out;
}

void Reply(httplib::Response& res, const Status& st) {
  int code = 500;
  switch (st.code()) {
    case StatusCode::kInvalidArgument: code = 400; break;
    case StatusCode::kNotFound: code = 404; break;
    case StatusCode::kUnavailable: code = 503; break;
    default: break;
  }
  res.status = code;
  res.set_content(json{{"error", st.message()}}.dump(), "application/json");
}

void ReplyJson(httplib::Response& res, const json& body) {
  res.set_content(body.dump(), "application/json");
}

constexpr const char* kBuiltInPage = R"html(<!doctype html>
<html><head><meta charset="utf-8"><title>qlab</title></head>
<body><h1>qlab</h1><p>Experiments: <a href="/api/v1/experiments">/api/v1/experiments</a>,
workers: <a href="/api/v1/workers">/api/v1/workers</a>, metrics: <a href="/metrics">/metrics</a>.</p>
</body></html>)html";

}  // namespace

void RegisterHttpRoutes(httplib::Server& http, Scheduler* scheduler, storage::JobStore* store,
                        const std::string& web_root) {
  http.Get("/healthz", [](const httplib::Request&, httplib::Response& res) {
    res.set_content("ok\n", "text/plain");
  });

  http.Get("/api/v1/experiments", [store](const httplib::Request&, httplib::Response& res) {
    auto list = store->ListExperiments();
    if (!list.ok()) return Reply(res, list.status());
    json out = json::array();
    for (const auto& e : *list) {
      out.push_back({{"id", e.id}, {"name", e.name}, {"kind", e.kind}, {"owner", e.owner},
                     {"created_unix_ms", e.created_unix_ms}, {"total", e.total},
                     {"pending", e.pending}, {"running", e.running}, {"succeeded", e.succeeded},
                     {"failed", e.failed}, {"cancelled", e.cancelled}});
    }
    ReplyJson(res, out);
  });

  http.Get(R"(/api/v1/experiments/([^/]+)/results)",
           [store](const httplib::Request& req, httplib::Response& res) {
             auto e = store->GetExperiment(req.matches[1], 0);
             if (!e.ok()) return Reply(res, e.status());
             json out = json::array();
             int64_t after = 0;
             for (;;) {
               auto rows = store->QueryResults(e->id, after, 10000);
               if (!rows.ok()) return Reply(res, rows.status());
               if (rows->empty()) break;
               after = rows->back().job_id;
               for (const auto& r : *rows) {
                 out.push_back({{"job_id", r.job_id}, {"experiment", r.experiment},
                                {"kind", r.kind}, {"state", storage::JobStateName(r.state)},
                                {"params", json::parse(r.params_json, nullptr, false)},
                                {"metrics", MetricsJson(r.metrics)}});
               }
             }
             ReplyJson(res, out);
           });

  http.Get("/api/v1/jobs", [store, scheduler](const httplib::Request& req, httplib::Response& res) {
    storage::JobFilter filter;
    filter.experiment = req.get_param_value("experiment");
    filter.kind = req.get_param_value("kind");
    int limit = 100;
    int64_t before = 0;
    try {
      if (req.has_param("limit")) limit = std::stoi(req.get_param_value("limit"));
      if (req.has_param("before")) before = std::stoll(req.get_param_value("before"));
    } catch (...) {
      return Reply(res, Status::InvalidArgument("limit and before must be integers"));
    }
    if (limit < 1 || limit > 1000) return Reply(res, Status::InvalidArgument("limit must be in [1, 1000]"));
    auto jobs = store->ListJobs(filter, before, limit);
    if (!jobs.ok()) return Reply(res, jobs.status());
    json out = json::array();
    for (const auto& j : *jobs) out.push_back(JobJson(j, scheduler));
    ReplyJson(res, out);
  });

  http.Get("/api/v1/workers", [scheduler](const httplib::Request&, httplib::Response& res) {
    json out = json::array();
    for (const auto& w : scheduler->Workers()) {
      out.push_back({{"worker_id", w.record.id}, {"host", w.record.host},
                     {"devices", json::parse(w.record.devices_json, nullptr, false)},
                     {"kinds", json::parse(w.record.kinds_json, nullptr, false)},
                     {"slots", w.record.slots}, {"live", w.live},
                     {"last_heartbeat_unix_ms", w.record.last_heartbeat_unix_ms},
                     {"running_job_ids", w.running_job_ids}});
    }
    ReplyJson(res, out);
  });

  http.Get("/metrics", [scheduler](const httplib::Request&, httplib::Response& res) {
    auto c = scheduler->counters();
    auto [pending, leased] = scheduler->QueueSizes();
    std::string text;
    auto add = [&](const char* name, const char* type, const char* help, int64_t v) {
      text += std::string("# HELP ") + name + " " + help + "\n# TYPE " + name + " " + type + "\n" +
              name + " " + std::to_string(v) + "\n";
    };
    add("qlab_queue_depth", "gauge", "Jobs waiting for a worker.", pending);
    add("qlab_leased_jobs", "gauge", "Jobs leased to workers.", leased);
    add("qlab_leases_granted_total", "counter", "Leases granted.", c.leases_granted);
    add("qlab_lease_expiries_total", "counter", "Leases that expired.", c.lease_expiries);
    add("qlab_requeues_total", "counter", "Jobs requeued after an expired lease.", c.requeues);
    add("qlab_completions_accepted_total", "counter", "Completions accepted.", c.completions_accepted);
    add("qlab_completions_rejected_total", "counter", "Completions rejected (stale token).",
        c.completions_rejected);
    res.set_content(text, "text/plain; version=0.0.4");
  });

  if (!web_root.empty()) {
    http.set_mount_point("/", web_root);
  } else {
    http.Get("/", [](const httplib::Request&, httplib::Response& res) {
      res.set_content(kBuiltInPage, "text/html");
    });
  }
}

}  // namespace qlab::server
