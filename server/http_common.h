// What the HTTP API's route files share: reading parameters, writing answers, and the JSON of
// a job. Internal to server/http_*.cc.
#pragma once

#include <httplib.h>

#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/job_output.h"
#include "common/status.h"
#include "server/scheduler.h"
#include "storage/job_store.h"

namespace qlab::server {

using ojson = nlohmann::ordered_json;

// The parsed object, or {} when `text` is not JSON.
ojson ParseObject(const std::string& text);
// {name: value} of the metrics.
ojson MetricsObject(const std::vector<Metric>& metrics);
// A job as the jobs list and the job page show it.
ojson JobJson(const storage::JobRecord& j, Scheduler* scheduler);

// {"error": message} with the HTTP status of the Status code.
void ReplyError(httplib::Response& res, const Status& st);
void ReplyJson(httplib::Response& res, const ojson& body);
bool WantsCsv(const httplib::Request& req);
void ReplyCsv(httplib::Response& res, const std::string& body, const std::string& filename);

// An integer query parameter within [lo, hi]; `fallback` when absent.
StatusOr<int64_t> IntParam(const httplib::Request& req, const char* name, int64_t fallback,
                           int64_t lo, int64_t hi);
// The job id of a `/api/v1/jobs/{id}...` path: the route's pattern admits any run of digits.
StatusOr<int64_t> PathJobId(const httplib::Request& req);
// The `state` parameter as a JobState value; 0 when absent.
StatusOr<int> StateParam(const httplib::Request& req);

// /api/v1/jobs, /api/v1/jobs/{id}, its artifacts and its attempts' logs (http_jobs.cc).
void RegisterJobRoutes(httplib::Server& http, Scheduler* scheduler, storage::JobStore* store);

}  // namespace qlab::server
