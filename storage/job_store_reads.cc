// JobStore: reads of results, experiments and counts (metrics, artifacts, experiment lists,
// results pages, metric pairs for Pareto fronts).
#include "storage/job_store.h"

#include <map>
#include <set>
#include <string>
#include <vector>

#include "storage/job_rows.h"

namespace qlab::storage {

namespace {
Metric ReadMetric(const Statement& s, int first_col) {
  Metric m;
  m.name = s.Text(first_col);
  m.value = s.Double(first_col + 1);
  m.unit = s.Text(first_col + 2);
  m.stderr_value = s.Double(first_col + 3);
  m.higher_is_better = s.Int(first_col + 4) != 0;
  return m;
}
}  // namespace

StatusOr<std::vector<Metric>> JobStore::GetMetrics(int64_t job_id) {
  WITH_READER(c);
  ASSIGN_OR_RETURN(Statement * s,
                   c.Prepare("SELECT name, value, unit, stderr, higher_is_better FROM result "
                             "WHERE job_id=? ORDER BY name"));
  s->Bind(1, job_id);
  std::vector<Metric> out;
  for (;;) {
    ASSIGN_OR_RETURN(bool row, s->Step());
    if (!row) break;
    out.push_back(ReadMetric(*s, 0));
  }
  s->Reset();
  return out;
}

StatusOr<std::vector<JobStore::StoredArtifact>> JobStore::GetArtifacts(int64_t job_id,
                                                                       const std::string& name,
                                                                       bool with_content) {
  WITH_READER(c);
  ASSIGN_OR_RETURN(Statement * s,
                   c.Prepare("SELECT name, media_type, length(content), "
                             "CASE WHEN :content THEN content END FROM artifact "
                             "WHERE job_id = :job AND (:name = '' OR name = :name) ORDER BY name, id"));
  s->Bind(s->ParamIndex(":job"), job_id)
      .Bind(s->ParamIndex(":name"), name)
      .Bind(s->ParamIndex(":content"), with_content ? 1 : 0);
  std::vector<StoredArtifact> out;
  for (;;) {
    ASSIGN_OR_RETURN(bool row, s->Step());
    if (!row) break;
    StoredArtifact a;
    a.artifact.name = s->Text(0);
    a.artifact.media_type = s->Text(1);
    a.size_bytes = s->Int(2);
    if (with_content) a.artifact.bytes = s->Blob(3);
    out.push_back(std::move(a));
  }
  s->Reset();
  return out;
}

namespace {
Status FillCounts(Connection& c, ExperimentRecord* e) {
  ASSIGN_OR_RETURN(Statement * s,
                   c.Prepare("SELECT state, SUM(n) FROM job_count WHERE experiment_id=? GROUP BY state"));
  s->Bind(1, e->id);
  for (;;) {
    ASSIGN_OR_RETURN(bool row, s->Step());
    if (!row) break;
    int64_t n = s->Int(1);
    e->total += n;
    switch (static_cast<JobState>(s->Int(0))) {
      case JobState::kPending: e->pending += n; break;
      case JobState::kLeased:
      case JobState::kRunning: e->running += n; break;
      case JobState::kSucceeded: e->succeeded += n; break;
      case JobState::kFailed: e->failed += n; break;
      case JobState::kCancelled: e->cancelled += n; break;
    }
  }
  s->Reset();
  return Status::Ok();
}

ExperimentRecord ReadExperiment(const Statement& s) {
  ExperimentRecord e;
  e.id = s.Int(0);
  e.name = s.Text(1);
  e.owner = s.Text(2);
  e.kind = s.Text(3);
  e.created_unix_ms = s.Int(4);
  e.spec_json = s.Text(5);
  e.tags_json = s.Text(6);
  return e;
}
constexpr const char* kExperimentColumns =
    "SELECT id, name, owner, kind, created_unix_ms, spec_json, tags_json FROM experiment";
}  // namespace

StatusOr<ExperimentRecord> JobStore::GetExperiment(const std::string& name, int64_t id) {
  WITH_READER(c);
  ASSIGN_OR_RETURN(Statement * s,
                   c.Prepare(std::string(kExperimentColumns) + " WHERE name=? OR id=?"));
  s->Bind(1, name).Bind(2, id);
  ASSIGN_OR_RETURN(bool row, s->Step());
  if (!row) {
    s->Reset();
    return Status::NotFound(name.empty() ? "no experiment with id " + std::to_string(id)
                                         : "no experiment named '" + name + "'");
  }
  ExperimentRecord e = ReadExperiment(*s);
  s->Reset();
  RETURN_IF_ERROR(FillCounts(c, &e));
  return e;
}

StatusOr<std::vector<ExperimentRecord>> JobStore::ListExperiments() {
  WITH_READER(c);
  ASSIGN_OR_RETURN(Statement * s, c.Prepare(std::string(kExperimentColumns) + " ORDER BY id"));
  std::vector<ExperimentRecord> out;
  for (;;) {
    ASSIGN_OR_RETURN(bool row, s->Step());
    if (!row) break;
    out.push_back(ReadExperiment(*s));
  }
  s->Reset();
  for (auto& e : out) RETURN_IF_ERROR(FillCounts(c, &e));
  return out;
}

StatusOr<std::vector<ResultRow>> JobStore::QueryResults(int64_t experiment_id, int64_t after_id,
                                                        int limit, const std::string& expression) {
  ASSIGN_OR_RETURN(CompiledFilter compiled, CompileFilter(expression, MetricNames()));
  WITH_READER(c);
  ASSIGN_OR_RETURN(Statement * jobs,
                   c.Prepare("SELECT j.id, e.name, j.kind, j.state, j.params_json, j.last_error, "
                             "j.comparability_key, j.environment_key, j.backend, j.flag "
                             "FROM job j JOIN experiment e ON e.id=j.experiment_id "
                             "WHERE j.experiment_id=:eid AND j.id>:after" +
                             (compiled.sql.empty() ? std::string() : " AND " + compiled.sql) +
                             " ORDER BY j.id LIMIT :limit"));
  jobs->Bind(jobs->ParamIndex(":eid"), experiment_id)
      .Bind(jobs->ParamIndex(":after"), after_id)
      .Bind(jobs->ParamIndex(":limit"), static_cast<int64_t>(limit));
  BindCompiled(jobs, compiled);
  std::vector<ResultRow> rows;
  for (;;) {
    ASSIGN_OR_RETURN(bool row, jobs->Step());
    if (!row) break;
    ResultRow r;
    r.job_id = jobs->Int(0);
    r.experiment = jobs->Text(1);
    r.kind = jobs->Text(2);
    r.state = static_cast<JobState>(jobs->Int(3));
    r.params_json = jobs->Text(4);
    r.last_error = jobs->Text(5);
    r.comparability_key = jobs->Text(6);
    r.environment_key = jobs->Text(7);
    r.backend = jobs->Text(8);
    r.flag = jobs->Text(9);
    rows.push_back(std::move(r));
  }
  jobs->Reset();
  if (rows.empty()) return rows;
  ASSIGN_OR_RETURN(Statement * m,
                   c.Prepare("SELECT job_id, name, value, unit, stderr, higher_is_better "
                             "FROM result WHERE job_id BETWEEN ? AND ? ORDER BY job_id"));
  m->Bind(1, rows.front().job_id).Bind(2, rows.back().job_id);
  size_t k = 0;
  for (;;) {
    ASSIGN_OR_RETURN(bool row, m->Step());
    if (!row) break;
    int64_t job_id = m->Int(0);
    while (k < rows.size() && rows[k].job_id < job_id) ++k;
    if (k < rows.size() && rows[k].job_id == job_id) rows[k].metrics.push_back(ReadMetric(*m, 1));
  }
  m->Reset();
  return rows;
}

StatusOr<std::map<int64_t, std::vector<Metric>>> JobStore::MetricsOf(
    const std::vector<int64_t>& job_ids) {
  std::map<int64_t, std::vector<Metric>> out;
  if (job_ids.empty()) return out;
  WITH_READER(c);
  ASSIGN_OR_RETURN(Statement * s,
                   c.Prepare("SELECT name, value, unit, stderr, higher_is_better FROM result "
                             "WHERE job_id=?"));
  for (int64_t id : job_ids) {
    s->Bind(1, id);
    auto& metrics = out[id];
    for (;;) {
      ASSIGN_OR_RETURN(bool row, s->Step());
      if (!row) break;
      metrics.push_back(ReadMetric(*s, 0));
    }
    s->Reset();
  }
  return out;
}

StatusOr<JobStore::MetricPairs> JobStore::MetricPairsFromSql(int64_t experiment_id,
                                                             const std::string& x,
                                                             const std::string& y,
                                                             const CompiledFilter& compiled) {
  WITH_READER(c);
  ASSIGN_OR_RETURN(Statement * s,
                   c.Prepare("SELECT j.id, rx.value, ry.value, rx.higher_is_better, "
                             "ry.higher_is_better, j.environment_key, j.backend = 'fallback' "
                             "FROM job j JOIN experiment e ON "
                             "e.id = j.experiment_id JOIN result rx ON rx.job_id = j.id AND "
                             "rx.name = :x JOIN result ry ON ry.job_id = j.id AND ry.name = :y "
                             "WHERE j.experiment_id = :eid AND j.state = :ok" +
                             (compiled.sql.empty() ? std::string() : " AND " + compiled.sql) +
                             " ORDER BY j.id"));
  s->Bind(s->ParamIndex(":x"), x)
      .Bind(s->ParamIndex(":y"), y)
      .Bind(s->ParamIndex(":eid"), experiment_id)
      .Bind(s->ParamIndex(":ok"), kSucceeded);
  BindCompiled(s, compiled);
  MetricPairs out;
  std::map<std::string, uint32_t> key_ids;
  for (;;) {
    ASSIGN_OR_RETURN(bool row, s->Step());
    if (!row) break;
    auto [k, added] = key_ids.emplace(s->Text(5), static_cast<uint32_t>(out.key_names.size()));
    if (added) out.key_names.push_back(k->first);
    out.ids.push_back(s->Int(0));
    out.x.push_back(s->Double(1));
    out.y.push_back(s->Double(2));
    out.key.push_back(k->second);
    out.fallback.push_back(s->Int(6) != 0);
    out.x_higher_is_better = s->Int(3) != 0;
    out.y_higher_is_better = s->Int(4) != 0;
  }
  s->Reset();
  out.x_seen = out.y_seen = !out.ids.empty();
  if (out.ids.empty()) {
    // Say which metric is missing: look each up once.
    ASSIGN_OR_RETURN(Statement * any,
                     c.Prepare("SELECT higher_is_better FROM result r JOIN job j ON j.id = r.job_id "
                               "WHERE j.experiment_id = ? AND r.name = ? LIMIT 1"));
    for (auto [name, seen, higher] : {std::tuple{&x, &out.x_seen, &out.x_higher_is_better},
                                      std::tuple{&y, &out.y_seen, &out.y_higher_is_better}}) {
      any->Bind(1, experiment_id).Bind(2, *name);
      ASSIGN_OR_RETURN(bool row, any->Step());
      *seen = row;
      if (row) *higher = any->Int(0) != 0;
      any->Reset();
    }
  }
  return out;
}

StatusOr<std::map<int64_t, std::string>> JobStore::ParamsOf(const std::vector<int64_t>& job_ids) {
  std::map<int64_t, std::string> out;
  WITH_READER(c);
  ASSIGN_OR_RETURN(Statement * s, c.Prepare("SELECT params_json FROM job WHERE id = ?"));
  for (int64_t id : job_ids) {
    s->Bind(1, id);
    ASSIGN_OR_RETURN(bool row, s->Step());
    if (row) out[id] = s->Text(0);
    s->Reset();
  }
  return out;
}

StatusOr<std::map<std::pair<JobState, std::string>, int64_t>> JobStore::CountByStateAndKind() {
  WITH_READER(c);
  ASSIGN_OR_RETURN(Statement * s,
                   c.Prepare("SELECT state, kind, SUM(n) FROM job_count GROUP BY state, kind HAVING SUM(n) > 0"));
  std::map<std::pair<JobState, std::string>, int64_t> out;
  for (;;) {
    ASSIGN_OR_RETURN(bool row, s->Step());
    if (!row) break;
    out[{static_cast<JobState>(s->Int(0)), s->Text(1)}] = s->Int(2);
  }
  s->Reset();
  return out;
}

}  // namespace qlab::storage
