#include "server/http_join.h"

namespace qlab::server {
namespace {

using ojson = nlohmann::ordered_json;

ojson Object(const std::string& text) {
  ojson j = ojson::parse(text, nullptr, false);
  return j.is_object() ? j : ojson::object();
}

ojson UnmatchedJson(const std::vector<UnmatchedRow>& rows, int64_t max_listed) {
  ojson out = ojson::array();
  for (const auto& r : rows) {
    if (max_listed > 0 && static_cast<int64_t>(out.size()) >= max_listed) break;
    out.push_back({{"job_id", r.job_id}, {"state", storage::JobStateName(r.state)},
                   {"on", Object(r.on_json)}});
  }
  return out;
}

}  // namespace

JoinSpec HttpJoinSpec(const std::string& experiment, const std::string& join,
                      const std::string& on, const std::string& filter, const std::string& keys) {
  return {experiment, join, SplitJoinKeys(on), filter, false, keys};
}

ojson JoinedResultsJson(const JoinSpec& spec, const JoinResult& join) {
  ojson rows = ojson::array();
  for (const auto& r : join.rows) {
    ojson metrics = ojson::object();
    for (const auto& m : r.metrics) metrics[m.name] = m.value;
    rows.push_back({{"on", Object(r.on_json)},
                    {"job_id_a", r.job_id_a},
                    {"job_id_b", r.job_id_b},
                    {"state_a", storage::JobStateName(r.state_a)},
                    {"state_b", storage::JobStateName(r.state_b)},
                    {"metrics", std::move(metrics)},
                    {"environment_key_a", r.environment_key_a},
                    {"environment_key_b", r.environment_key_b}});
  }
  return {{"experiment", join.experiment_a},
          {"join", join.experiment_b},
          {"on", spec.on},
          {"metric_names", join.metric_names},
          {"rows", std::move(rows)},
          {"unmatched_a", UnmatchedJson(join.unmatched_a, 0)},
          {"unmatched_b", UnmatchedJson(join.unmatched_b, 0)}};
}

void AddParetoJoinJson(const ParetoQuery& q, const ParetoResult& result, int64_t max_listed,
                       ojson* out) {
  (*out)["join"] = q.join;
  (*out)["on"] = q.on;
  (*out)["metric_names"] = result.metric_names;
  (*out)["unmatched_a_total"] = result.unmatched_a.size();
  (*out)["unmatched_b_total"] = result.unmatched_b.size();
  (*out)["unmatched_a"] = UnmatchedJson(result.unmatched_a, max_listed);
  (*out)["unmatched_b"] = UnmatchedJson(result.unmatched_b, max_listed);
}

}  // namespace qlab::server
