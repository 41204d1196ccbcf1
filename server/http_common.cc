// Helpers of the HTTP API's route files (http_common.h).
#include "server/http_common.h"

#include <cctype>
#include <limits>

namespace qlab::server {

ojson ParseObject(const std::string& text) {
  ojson j = ojson::parse(text, nullptr, false);
  return j.is_discarded() ? ojson::object() : j;
}

ojson MetricsObject(const std::vector<Metric>& metrics) {
  ojson out = ojson::object();
  for (const auto& m : metrics) out[m.name] = m.value;
  return out;
}

ojson JobJson(const storage::JobRecord& j, Scheduler* scheduler) {
  ojson out = {{"job_id", j.id},
               {"experiment", j.experiment},
               {"kind", j.spec.kind},
               {"state", storage::JobStateName(j.state)},
               {"params", ParseObject(j.spec.params_json)},
               {"attempts", j.attempts},
               {"worker_id", j.worker_id},
               {"last_error", j.last_error},
               {"failure_class", j.failure_class},
               {"created_unix_ms", j.created_unix_ms},
               {"started_unix_ms", j.started_unix_ms},
               {"finished_unix_ms", j.finished_unix_ms},
               {"comparability_key", j.comparability.comparability_key},
               {"environment_key", j.comparability.environment_key},
               {"backend", j.comparability.backend},
               {"flag", j.flag}};
  if (j.state == storage::JobState::kPending) out["pending_reason"] = scheduler->PendingReason(j.id);
  if (j.state == storage::JobState::kLeased || j.state == storage::JobState::kRunning) {
    out["progress"] = scheduler->Progress(j.id);
  }
  return out;
}

void ReplyError(httplib::Response& res, const Status& st) {
  int code = 500;
  switch (st.code()) {
    case StatusCode::kInvalidArgument: code = 400; break;
    case StatusCode::kNotFound: code = 404; break;
    case StatusCode::kUnavailable: code = 503; break;
    case StatusCode::kUnauthenticated: code = 401; break;
    case StatusCode::kPermissionDenied: code = 403; break;
    default: break;
  }
  res.status = code;
  if (code == 401) res.set_header("WWW-Authenticate", "Bearer realm=\"qlab\"");
  res.set_content(nlohmann::json{{"error", st.message()}}.dump(
                      -1, ' ', false, nlohmann::json::error_handler_t::replace),
                  "application/json");
}

void ReplyJson(httplib::Response& res, const ojson& body) {
  // Stored text (an error message, a param) need not be UTF-8; replace what is not rather than
  // fail the whole answer.
  res.set_content(body.dump(-1, ' ', false, ojson::error_handler_t::replace), "application/json");
}

StatusOr<int64_t> IntParam(const httplib::Request& req, const char* name, int64_t fallback,
                           int64_t lo, int64_t hi) {
  if (!req.has_param(name)) return fallback;
  const std::string text = req.get_param_value(name);
  try {
    size_t used = 0;
    int64_t v = std::stoll(text, &used);
    if (used == text.size() && v >= lo && v <= hi) return v;
  } catch (...) {
  }
  return Status::InvalidArgument(std::string(name) + " must be an integer in [" +
                                 std::to_string(lo) + ", " + std::to_string(hi) + "], got '" +
                                 text + "'");
}

StatusOr<int64_t> PathJobId(const httplib::Request& req) {
  const std::string text = req.matches[1];
  try {
    size_t used = 0;
    int64_t v = std::stoll(text, &used);
    if (used == text.size() && v > 0) return v;
  } catch (...) {
  }
  return Status::InvalidArgument("job id in the path must be an integer in [1, " +
                                 std::to_string(std::numeric_limits<int64_t>::max()) + "], got '" +
                                 text.substr(0, 40) + (text.size() > 40 ? "...'" : "'"));
}

StatusOr<int> StateParam(const httplib::Request& req) {
  if (!req.has_param("state") || req.get_param_value("state").empty()) return 0;
  std::string upper = req.get_param_value("state");
  for (char& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  for (int s = 1; s <= 6; ++s) {
    if (upper == storage::JobStateName(static_cast<storage::JobState>(s))) return s;
  }
  return Status::InvalidArgument("state must be one of pending, leased, running, succeeded, "
                                 "failed, cancelled");
}

bool WantsCsv(const httplib::Request& req) { return req.get_param_value("format") == "csv"; }

void ReplyCsv(httplib::Response& res, const std::string& body, const std::string& filename) {
  res.set_header("Content-Disposition", "attachment; filename=\"" + filename + "\"");
  res.set_content(body, "text/csv; charset=utf-8");
}


}  // namespace qlab::server
