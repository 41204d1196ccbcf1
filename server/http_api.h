// The coordinator's HTTP side: the dashboard's static files, the JSON API under /api/v1/,
// /metrics in Prometheus text format and /healthz.
#pragma once

#include <string>

#include "server/scheduler.h"
#include "storage/job_store.h"

namespace httplib {
class Server;
}

namespace qlab::server {

// Registers every route on `http`. `web_root` is the folder of static dashboard files ("" =
// the small built-in page). The pointers must outlive the server.
void RegisterHttpRoutes(httplib::Server& http, Scheduler* scheduler, storage::JobStore* store,
                        const std::string& web_root);

}  // namespace qlab::server
