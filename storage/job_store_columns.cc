// JobStore: the experiments' columns in memory (storage/experiment_columns.h): loading them,
// keeping them current, and answering job lists, counts and metric pairs from them.
#include <algorithm>
#include <string>
#include <vector>

#include "storage/job_rows.h"
#include "storage/job_store.h"

namespace qlab::storage {

StatusOr<std::shared_ptr<ExperimentColumns>> JobStore::Columns(int64_t experiment_id) {
  return columns_.Get(experiment_id, [&]() -> StatusOr<std::shared_ptr<ExperimentColumns>> {
    WITH_READER(c);
    ASSIGN_OR_RETURN(Statement * name, c.Prepare("SELECT name FROM experiment WHERE id=?"));
    name->Bind(1, experiment_id);
    ASSIGN_OR_RETURN(bool found, name->Step());
    if (!found) {
      name->Reset();
      return Status::NotFound("no experiment with id " + std::to_string(experiment_id));
    }
    auto columns = std::make_shared<ExperimentColumns>(experiment_id, name->Text(0));
    name->Reset();
    ASSIGN_OR_RETURN(Statement * jobs,
                     c.Prepare("SELECT id, kind, params_json, environment_key, "
                               "backend = 'fallback' FROM job WHERE experiment_id=? ORDER BY id"));
    jobs->Bind(1, experiment_id);
    struct Keys {
      std::string environment_key;
      bool fallback;
    };
    std::vector<Keys> keys;
    for (;;) {
      ASSIGN_OR_RETURN(bool row, jobs->Step());
      if (!row) break;
      columns->AppendJob(jobs->Int(0), jobs->Text(1), jobs->Text(2));
      keys.push_back({jobs->Text(3), jobs->Int(4) != 0});
    }
    jobs->Reset();
    if (columns->size() == 0) return columns;
    // Results are keyed (job_id, name): one range scan over the experiment's ids, other
    // experiments' jobs inside the range skipped.
    ASSIGN_OR_RETURN(Statement * results,
                     c.Prepare("SELECT job_id, name, value, higher_is_better FROM result "
                               "WHERE job_id BETWEEN ? AND ?"));
    const std::vector<int64_t>& ids = columns->ids();
    results->Bind(1, ids.front()).Bind(2, ids.back());
    int64_t current = 0;
    std::vector<Metric> metrics;
    size_t row = 0;
    auto flush = [&] {
      if (metrics.empty()) return;
      while (row < ids.size() && ids[row] < current) ++row;
      if (row < ids.size() && ids[row] == current) {
        columns->SetSucceeded(current, metrics, keys[row].environment_key, keys[row].fallback);
      }
      metrics.clear();
    };
    for (;;) {
      ASSIGN_OR_RETURN(bool more, results->Step());
      if (!more) break;
      const int64_t job_id = results->Int(0);
      if (job_id != current) {
        flush();
        current = job_id;
      }
      Metric m;
      m.name = results->Text(1);
      m.value = results->Double(2);
      m.higher_is_better = results->Int(3) != 0;
      metrics.push_back(std::move(m));
    }
    flush();
    results->Reset();
    return columns;
  });
}

StatusOr<int64_t> JobStore::WarmColumns(int64_t max_jobs, const std::atomic<bool>& stop) {
  std::vector<std::pair<int64_t, int64_t>> experiments;  // (id, jobs), newest first
  {
    WITH_READER(c);
    ASSIGN_OR_RETURN(Statement * s,
                     c.Prepare("SELECT experiment_id, SUM(n) FROM job_count GROUP BY experiment_id "
                               "ORDER BY experiment_id DESC"));
    for (;;) {
      ASSIGN_OR_RETURN(bool row, s->Step());
      if (!row) break;
      experiments.emplace_back(s->Int(0), s->Int(1));
    }
    s->Reset();
  }
  int64_t held = 0;
  for (const auto& [id, jobs] : experiments) {
    if (stop.load() || held + jobs > max_jobs) continue;  // a smaller, older one may still fit
    ASSIGN_OR_RETURN(auto columns, Columns(id));
    held += jobs;
  }
  return held;
}

void JobStore::NoteJobsStored(int64_t experiment_id,
                              const std::vector<std::pair<int64_t, JobSpec>>& jobs) {
  if (!columns_.Tracks(experiment_id)) return;
  std::vector<ColumnIndex::StoredJob> stored;
  stored.reserve(jobs.size());
  for (const auto& [id, spec] : jobs) stored.push_back({id, spec.kind, spec.params_json});
  columns_.OnJobsStored(experiment_id, std::move(stored));
}

StatusOr<std::vector<JobStore::LiveFields>> JobStore::ReadLiveFields(int64_t experiment_id,
                                                                    int64_t first_id,
                                                                    int64_t last_id) {
  WITH_READER(c);
  ASSIGN_OR_RETURN(Statement * s,
                   c.Prepare("SELECT id, state, comparability_key, environment_key, backend, flag "
                             "FROM job WHERE id BETWEEN ? AND ? AND experiment_id = ? ORDER BY id"));
  s->Bind(1, first_id).Bind(2, last_id).Bind(3, experiment_id);
  std::vector<LiveFields> out;
  for (;;) {
    ASSIGN_OR_RETURN(bool row, s->Step());
    if (!row) break;
    out.push_back({s->Int(0), static_cast<JobState>(s->Int(1)), s->Text(2), s->Text(3), s->Text(4),
                   s->Text(5)});
  }
  s->Reset();
  return out;
}

StatusOr<std::optional<JobStore::ColumnPlan>> JobStore::PlanWithColumns(const JobFilter& filter) {
  if (filter.expression.empty() || filter.state != 0) return std::optional<ColumnPlan>();
  ASSIGN_OR_RETURN(std::optional<FilterNode> node, ParseFilter(filter.expression, MetricNames()));
  if (!node || ReadsLiveFields(*node)) return std::optional<ColumnPlan>();
  std::vector<int64_t> experiment_ids;
  {
    WITH_READER(c);
    ASSIGN_OR_RETURN(Statement * s,
                     c.Prepare("SELECT id FROM experiment WHERE ?1 = '' OR name = ?1 ORDER BY id"));
    s->Bind(1, filter.experiment);
    for (;;) {
      ASSIGN_OR_RETURN(bool row, s->Step());
      if (!row) break;
      experiment_ids.push_back(s->Int(0));
    }
    s->Reset();
  }
  ColumnPlan plan{std::move(*node), {}};
  for (int64_t id : experiment_ids) {
    ASSIGN_OR_RETURN(auto columns, Columns(id));
    std::shared_lock read(columns->mutex());
    if (!columns->complete()) return std::optional<ColumnPlan>();
    read.unlock();
    plan.experiments.push_back(std::move(columns));
  }
  return std::optional<ColumnPlan>(std::move(plan));
}

std::vector<int64_t> JobStore::MatchingIds(const ColumnPlan& plan, const JobFilter& filter,
                                           int64_t before_id, size_t limit) {
  std::vector<int64_t> ids;
  for (const auto& e : plan.experiments) {
    std::shared_lock read(e->mutex());
    std::vector<int64_t> some = e->MatchingIds(&plan.filter, filter.kind, before_id, limit);
    ids.insert(ids.end(), some.begin(), some.end());
  }
  std::sort(ids.begin(), ids.end(), std::greater<>());
  if (ids.size() > limit) ids.resize(limit);
  return ids;
}

int64_t JobStore::CountMatching(const ColumnPlan& plan, const JobFilter& filter, int64_t cap) {
  int64_t n = 0;
  for (const auto& e : plan.experiments) {
    if (n >= cap) break;
    std::shared_lock read(e->mutex());
    n += e->CountMatching(&plan.filter, filter.kind, cap - n);
  }
  return n;
}

StatusOr<JobStore::MetricPairs> JobStore::ReadMetricPairs(int64_t experiment_id,
                                                          const std::string& x,
                                                          const std::string& y,
                                                          const std::string& expression) {
  ASSIGN_OR_RETURN(std::optional<FilterNode> node, ParseFilter(expression, MetricNames()));
  if (node && ReadsLiveFields(*node)) {
    return MetricPairsFromSql(experiment_id, x, y, CompileFilterNode(*node));
  }
  ASSIGN_OR_RETURN(auto columns, Columns(experiment_id));
  std::shared_lock read(columns->mutex());
  if (!columns->complete()) {
    read.unlock();
    return MetricPairsFromSql(experiment_id, x, y,
                              node ? CompileFilterNode(*node) : CompiledFilter{});
  }
  return columns->MetricPairs(node ? &*node : nullptr, x, y);
}

}  // namespace qlab::storage
