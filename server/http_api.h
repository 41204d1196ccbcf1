// The coordinator's HTTP side: the dashboard's static files, the JSON API under /api/v1/
// (docs/http-api.md), /metrics in Prometheus text format and /healthz.
#pragma once

#include <functional>
#include <string>

#include <nlohmann/json.hpp>

#include "server/auth.h"
#include "server/scheduler.h"
#include "storage/job_store.h"

namespace httplib {
class Server;
}

namespace qlab::server {

struct HttpApiOptions {
  std::string web_root;  // folder of static dashboard files; "" = a small built-in page
  // Renders /metrics; unset = 404.
  std::function<std::string()> render_metrics;
  // Null: every route is open (no --auth-file).
  const TokenAuth* auth = nullptr;
  // /api/v1/studies/NAME: the study's report (study_spec.h: StudyReport); unset = 404.
  std::function<StatusOr<nlohmann::json>(const std::string& experiment)> study_report;
};

// Registers every route on `http`. The pointers must outlive the server.
void RegisterHttpRoutes(httplib::Server& http, Scheduler* scheduler, storage::JobStore* store,
                        const HttpApiOptions& options);

}  // namespace qlab::server
