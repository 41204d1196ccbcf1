// qlab results and qlab pareto with --join B --on KEYS: rows of two experiments paired where
// the `on` params are equal (DESIGN.md §10 "Joins"). The rows without a partner are always
// shown: in their own sections of the table, or their own arrays of the JSON.
#include "cli/commands.h"

#include <algorithm>
#include <cstdio>

#include "cli/table.h"

namespace qlab::cli {

using nlohmann::json;
using ojson = nlohmann::ordered_json;

namespace {

ojson Object(const std::string& text) {
  ojson j = ojson::parse(text, nullptr, false);
  return j.is_object() ? j : ojson::object();
}

template <typename Rows>
ojson UnmatchedJson(const Rows& rows) {
  ojson out = ojson::array();
  for (const auto& r : rows) {
    out.push_back({{"job_id", r.job_id()}, {"state", StateName(r.state())}, {"on", Object(r.on_json())}});
  }
  return out;
}

// "unmatched in A (name): N", then their job ids, states and the `on` params they have.
template <typename Rows>
void PrintUnmatched(const char* side, const std::string& experiment,
                    const std::vector<std::string>& on, const Rows& rows) {
  std::printf("\nunmatched in %s (%s): %d\n", side, experiment.c_str(), rows.size());
  if (rows.empty()) return;
  std::vector<std::string> header = {"job_id", "state"};
  header.insert(header.end(), on.begin(), on.end());
  std::vector<std::vector<std::string>> cells;
  for (const auto& r : rows) {
    std::vector<std::string> line = {std::to_string(r.job_id()), StateName(r.state())};
    json keys = json::parse(r.on_json(), nullptr, false);
    for (const auto& k : on) {
      line.push_back(keys.is_object() && keys.contains(k) ? ParamText(keys[k]) : "(none)");
    }
    cells.push_back(std::move(line));
  }
  std::fputs(FormatTable(header, cells).c_str(), stdout);
}

const v1::Metric* FindMetric(const v1::JoinedRow& r, const std::string& name) {
  for (const auto& m : r.metrics()) {
    if (m.name() == name) return &m;
  }
  return nullptr;
}

}  // namespace

int CmdResultsJoined(Client& c, const std::string& experiment, const std::string& join,
                     const std::vector<std::string>& on, const std::string& filter, bool as_json,
                     const std::string& sort_by, const std::vector<std::string>& only_metrics,
                     const std::string& keys) {
  v1::QueryResultsRequest req;
  req.set_keys(keys);
  req.set_experiment(experiment);
  req.set_filter(filter);
  req.set_join(join);
  for (const auto& k : on) req.add_on(k);
  v1::QueryResultsResponse resp;
  grpc::Status st = c.results().QueryResults(c.Ctx(300).get(), req, &resp);
  if (!st.ok()) return Fail(st, "results");
  std::vector<const v1::JoinedRow*> rows;
  for (const auto& r : resp.joined_rows()) rows.push_back(&r);
  if (!sort_by.empty()) {
    std::stable_sort(rows.begin(), rows.end(), [&](const auto* a, const auto* b) {
      const v1::Metric* ma = FindMetric(*a, sort_by);
      const v1::Metric* mb = FindMetric(*b, sort_by);
      if (!ma || !mb) return ma != nullptr;
      return ma->value() < mb->value();
    });
  }
  if (as_json) {
    ojson out_rows = ojson::array();
    for (const auto* r : rows) {
      ojson metrics = ojson::object();
      for (const auto& m : r->metrics()) metrics[m.name()] = m.value();
      out_rows.push_back({{"on", Object(r->on_json())},
                          {"job_id_a", r->job_id_a()},
                          {"job_id_b", r->job_id_b()},
                          {"state_a", StateName(r->state_a())},
                          {"state_b", StateName(r->state_b())},
                          {"metrics", std::move(metrics)},
                          {"environment_key_a", r->environment_key_a()},
                          {"environment_key_b", r->environment_key_b()}});
    }
    ojson out = {{"experiment", experiment},
                 {"join", join},
                 {"on", on},
                 {"metric_names", std::vector<std::string>(resp.joined_metric_names().begin(),
                                                           resp.joined_metric_names().end())},
                 {"rows", std::move(out_rows)},
                 {"unmatched_a", UnmatchedJson(resp.unmatched_a())},
                 {"unmatched_b", UnmatchedJson(resp.unmatched_b())}};
    std::printf("%s\n", out.dump(2).c_str());
    return 0;
  }
  std::vector<std::string> metrics = only_metrics;
  if (metrics.empty()) metrics.assign(resp.joined_metric_names().begin(), resp.joined_metric_names().end());
  bool all_succeeded = true;
  for (const auto* r : rows) {
    all_succeeded &= r->state_a() == v1::JOB_STATE_SUCCEEDED && r->state_b() == v1::JOB_STATE_SUCCEEDED;
  }
  std::vector<std::string> header(on.begin(), on.end());
  header.push_back(experiment + " job");
  header.push_back(join + " job");
  if (!all_succeeded) header.push_back("states");
  header.insert(header.end(), metrics.begin(), metrics.end());
  std::vector<std::vector<std::string>> cells;
  for (const auto* r : rows) {
    std::vector<std::string> line;
    json keys = json::parse(r->on_json(), nullptr, false);
    for (const auto& k : on) line.push_back(keys.is_object() && keys.contains(k) ? ParamText(keys[k]) : "");
    line.push_back(std::to_string(r->job_id_a()));
    line.push_back(std::to_string(r->job_id_b()));
    if (!all_succeeded) line.push_back(std::string(StateName(r->state_a())) + "/" + StateName(r->state_b()));
    for (const auto& name : metrics) {
      const v1::Metric* m = FindMetric(*r, name);
      line.push_back(m ? FormatShort(m->value()) : "");
    }
    cells.push_back(std::move(line));
  }
  std::printf("%s joined with %s on %s: %zu rows\n", experiment.c_str(), join.c_str(),
              JoinKeysText(on).c_str(), rows.size());
  std::fputs(FormatTable(header, cells).c_str(), stdout);
  PrintUnmatched("A", experiment, on, resp.unmatched_a());
  PrintUnmatched("B", join, on, resp.unmatched_b());
  return 0;
}

int PrintJoinedPareto(const std::string& experiment, const std::string& join,
                      const std::vector<std::string>& on, const std::string& x,
                      const std::string& y, const v1::ParetoResponse& resp, bool as_json,
                      bool all_points) {
  if (as_json) {
    ojson points = ojson::array();
    for (const auto& p : resp.points()) {
      if (!all_points && !p.on_frontier()) continue;
      points.push_back({{"job_id", p.job_id()}, {"job_id_b", p.job_id_b()}, {x, p.x()}, {y, p.y()},
                        {"on_frontier", p.on_frontier()}, {"params", Object(p.params_json())},
                        {"environment_key", p.key()}});
    }
    ojson out = {{"experiment", experiment},
                 {"join", join},
                 {"on", on},
                 {"x", x},
                 {"y", y},
                 {"x_maximized", resp.x_maximized()},
                 {"y_maximized", resp.y_maximized()},
                 {"points", std::move(points)},
                 {"unmatched_a", UnmatchedJson(resp.unmatched_a())},
                 {"unmatched_b", UnmatchedJson(resp.unmatched_b())}};
    std::printf("%s\n", out.dump(2).c_str());
    return 0;
  }
  std::vector<std::string> header(on.begin(), on.end());
  header.push_back(experiment + " job");
  header.push_back(join + " job");
  header.push_back(x + (resp.x_maximized() ? " (max)" : " (min)"));
  header.push_back(y + (resp.y_maximized() ? " (max)" : " (min)"));
  if (all_points) header.push_back("frontier");
  std::vector<std::vector<std::string>> cells;
  int frontier = 0;
  for (const auto& p : resp.points()) {
    frontier += p.on_frontier();
    if (!all_points && !p.on_frontier()) continue;
    std::vector<std::string> line;
    json keys = json::parse(p.params_json(), nullptr, false);
    for (const auto& k : on) line.push_back(keys.is_object() && keys.contains(k) ? ParamText(keys[k]) : "");
    line.push_back(std::to_string(p.job_id()));
    line.push_back(std::to_string(p.job_id_b()));
    line.push_back(FormatShort(p.x()));
    line.push_back(FormatShort(p.y()));
    if (all_points) line.push_back(p.on_frontier() ? "*" : "");
    cells.push_back(std::move(line));
  }
  std::printf("Pareto frontier of %s joined with %s on %s: %d of %d pairs (%s vs %s)\n",
              experiment.c_str(), join.c_str(), JoinKeysText(on).c_str(), frontier,
              resp.points_size(), y.c_str(), x.c_str());
  std::fputs(FormatTable(header, cells).c_str(), stdout);
  PrintUnmatched("A", experiment, on, resp.unmatched_a());
  PrintUnmatched("B", join, on, resp.unmatched_b());
  return 0;
}

std::string JoinKeysText(const std::vector<std::string>& on) {
  std::string out;
  for (const auto& k : on) out += (out.empty() ? "" : ",") + k;
  return out;
}

}  // namespace qlab::cli
