#include "server/pareto_query.h"

#include <algorithm>
#include <map>
#include <numeric>
#include <shared_mutex>

#include "server/comparability.h"
#include "server/pareto.h"

#include "common/input_limits.h"

namespace qlab::server {
namespace {

bool Maximize(ParetoDirection d, bool own) {
  return d == ParetoDirection::kMaximize || (d == ParetoDirection::kAuto && own);
}

// Which points to return, x ascending (ties by id): all, or every frontier point and an even
// sample of the rest, max_points in all.
std::vector<size_t> KeptPoints(const std::vector<ParetoInput>& points, const std::vector<bool>& on,
                               int64_t max_points) {
  std::vector<size_t> keep;
  const int64_t total = static_cast<int64_t>(points.size());
  if (max_points > 0 && total > max_points) {
    int64_t frontier = 0;
    for (bool f : on) frontier += f;
    const int64_t budget = std::max<int64_t>(0, max_points - frontier);
    const int64_t dominated = total - frontier;
    int64_t seen = 0;
    for (size_t i = 0; i < points.size(); ++i) {
      if (on[i] || (budget > 0 && (seen++ * budget) % dominated < budget)) keep.push_back(i);
    }
  } else {
    keep.resize(points.size());
    std::iota(keep.begin(), keep.end(), 0);
  }
  std::sort(keep.begin(), keep.end(), [&](size_t a, size_t b) {
    return points[a].x != points[b].x ? points[a].x < points[b].x : points[a].id < points[b].id;
  });
  return keep;
}

// The frontier of each environment key's points on its own (keys "group"), or of all (keys
// "mix"); fills the result's key groups and warning. Point i has key key_names[key[i]];
// `example_job` gives a job per point to describe its key (nullptr: the point's own id).
StatusOr<std::vector<bool>> GroupedFrontier(storage::JobStore& store, const ParetoQuery& q,
                                            const std::vector<ParetoInput>& points,
                                            const std::vector<uint32_t>& key,
                                            const std::vector<std::string>& key_names,
                                            const std::vector<int64_t>* example_job,
                                            ParetoResult* out) {
  std::vector<std::vector<size_t>> members(key_names.size());
  std::vector<size_t> counts(key_names.size(), 0);
  for (uint32_t k : key) ++counts[k];
  size_t keys_with_points = 0;
  for (size_t n : counts) keys_with_points += n > 0;
  if (keys_with_points == 1) {
    // One environment (the usual case): no member lists for a million points, only the first.
    for (size_t i = 0; i < points.size(); ++i) {
      if (members[key[i]].empty()) members[key[i]].push_back(i);
    }
  } else {
    for (size_t i = 0; i < points.size(); ++i) members[key[i]].push_back(i);
  }
  std::vector<uint32_t> groups;  // keys with points, by key text (a stable order)
  for (uint32_t k = 0; k < key_names.size(); ++k) {
    if (counts[k] > 0) groups.push_back(k);
  }
  std::sort(groups.begin(), groups.end(),
            [&](uint32_t a, uint32_t b) { return key_names[a] < key_names[b]; });
  for (uint32_t k : groups) {
    ParetoKeyGroup g{key_names[k], static_cast<int64_t>(counts[k]), ""};
    // A joined key is "A+B": describe A's environment, and B's when it has one.
    const size_t first = members[k].front();
    auto job = store.GetJob(example_job ? (*example_job)[first] : points[first].id);
    if (job.ok()) g.summary = ContextSummary(job->comparability.context_json);
    if (job.ok() && job->comparability.context_json.empty()) g.summary = "no context reported";
    out->key_groups.push_back(std::move(g));
  }
  std::stable_sort(out->key_groups.begin(), out->key_groups.end(),
                   [](const ParetoKeyGroup& a, const ParetoKeyGroup& b) { return a.points > b.points; });
  if (groups.size() <= 1 || q.keys == "mix") {
    if (groups.size() > 1) {
      out->warning = "these points come from " + std::to_string(groups.size()) +
                     " environments (comparability keys) and were compared as one (keys=mix)";
    }
    return ParetoFrontier(points, out->x_maximized, out->y_maximized);
  }
  out->warning = "these points come from " + std::to_string(groups.size()) +
                 " environments (comparability keys): one front per environment";
  std::vector<bool> on(points.size(), false);
  for (uint32_t k : groups) {
    std::vector<ParetoInput> part;
    part.reserve(members[k].size());
    for (size_t i : members[k]) part.push_back(points[i]);
    const std::vector<bool> part_on = ParetoFrontier(part, out->x_maximized, out->y_maximized);
    for (size_t m = 0; m < members[k].size(); ++m) on[members[k][m]] = part_on[m];
  }
  return on;
}

// Every point of a very large front would be held whole (as JSON, twice) to answer it.
Status CheckWholeAnswer(const ParetoQuery& q, int64_t total_points) {
  if (q.max_points > 0 || q.whole_answer_limit <= 0 || total_points <= q.whole_answer_limit) {
    return Status::Ok();
  }
  return Status::InvalidArgument(
      "max_points: " + std::to_string(total_points) + " points are more than the " +
      std::to_string(q.whole_answer_limit) +
      " answered without max_points; ask with max_points (the frontier is always complete) "
      "or download every point with the results export");
}

StatusOr<ParetoResult> RunJoinedPareto(storage::JobStore& store, const ParetoQuery& q) {
  RETURN_IF_ERROR(CheckSize(q.x_metric.size(), kMaxNameBytes, "x"));
  RETURN_IF_ERROR(CheckSize(q.y_metric.size(), kMaxNameBytes, "y"));
  ASSIGN_OR_RETURN(JoinResult join, RunJoinQuery(store, {q.experiment, q.join, q.on, q.filter,
                                                         /*succeeded_only=*/true,
                                                         q.keys.empty() ? "group" : q.keys}));
  ASSIGN_OR_RETURN(std::string x, ResolveJoinedMetric(join, q.x_metric, "x"));
  ASSIGN_OR_RETURN(std::string y, ResolveJoinedMetric(join, q.y_metric, "y"));
  // A point per pair that has both metrics; its id is the pair's place in the join's order,
  // which keeps ties in (A's job id, B's job id) order.
  std::vector<ParetoInput> points;
  std::vector<uint32_t> keys;
  std::vector<std::string> key_names;
  std::map<std::string, uint32_t> key_ids;
  std::vector<int64_t> examples;
  bool x_higher = false, y_higher = false;
  ParetoResult out;
  for (size_t i = 0; i < join.rows.size(); ++i) {
    const Metric *mx = nullptr, *my = nullptr;
    for (const auto& m : join.rows[i].metrics) {
      if (m.name == x) mx = &m;
      if (m.name == y) my = &m;
    }
    if (!mx || !my) continue;
    if (join.rows[i].fallback && !q.include_fallbacks) {
      ++out.excluded_fallbacks;
      continue;
    }
    x_higher = mx->higher_is_better;
    y_higher = my->higher_is_better;
    points.push_back({static_cast<int64_t>(i), mx->value, my->value});
    auto [k, added] = key_ids.emplace(
        join.rows[i].environment_key_a + "+" + join.rows[i].environment_key_b,
        static_cast<uint32_t>(key_names.size()));
    if (added) key_names.push_back(k->first);
    keys.push_back(k->second);
    examples.push_back(join.rows[i].job_id_a);
  }
  out.x_maximized = Maximize(q.x_direction, x_higher);
  out.y_maximized = Maximize(q.y_direction, y_higher);
  out.total_points = static_cast<int64_t>(points.size());
  RETURN_IF_ERROR(CheckWholeAnswer(q, out.total_points));
  ASSIGN_OR_RETURN(std::vector<bool> on,
                   GroupedFrontier(store, q, points, keys, key_names, &examples, &out));
  for (size_t k : KeptPoints(points, on, q.max_points)) {
    const JoinedRow& row = join.rows[static_cast<size_t>(points[k].id)];
    out.points.push_back({row.job_id_a, points[k].x, points[k].y, on[k], row.on_json, row.job_id_b,
                          key_names[keys[k]]});
  }
  out.unmatched_a = std::move(join.unmatched_a);
  out.unmatched_b = std::move(join.unmatched_b);
  out.metric_names = std::move(join.metric_names);
  return out;
}

}  // namespace

StatusOr<std::unique_ptr<ParetoMemo>> ParetoMemo::For(storage::JobStore& store,
                                                      const ParetoQuery& q) {
  std::unique_ptr<ParetoMemo> none;
  if (!q.join.empty() || !q.on.empty()) return none;
  auto filter = storage::ParseFilter(q.filter, store.MetricNames());
  if (!filter.ok() || (*filter && storage::ReadsLiveFields(**filter))) return none;
  ASSIGN_OR_RETURN(auto experiment, store.GetExperiment(q.experiment, 0));
  std::unique_ptr<ParetoMemo> memo(new ParetoMemo());
  ASSIGN_OR_RETURN(memo->columns_, store.Columns(experiment.id));
  {
    std::shared_lock read(memo->columns_->mutex());
    if (!memo->columns_->complete()) return none;
  }
  memo->version_ = memo->columns_->version();
  // The whole question is the key.
  memo->key_ = "pareto\n" + q.x_metric + "\n" + q.y_metric + "\n" +
               std::to_string(static_cast<int>(q.x_direction)) +
               std::to_string(static_cast<int>(q.y_direction)) + "\n" + q.keys + "\n" +
               std::to_string(q.include_fallbacks) + "\n" + std::to_string(q.max_points) + "\n" +
               std::to_string(q.whole_answer_limit) + "\n" + q.filter + "\n";
  return memo;
}

std::shared_ptr<const void> ParetoMemo::Get(const std::string& what) const {
  return columns_->Memo(key_ + what);
}

void ParetoMemo::Put(const std::string& what, std::shared_ptr<const void> value) const {
  columns_->SetMemo(key_ + what, std::move(value), version_);
}

StatusOr<ParetoResult> RunParetoQuery(storage::JobStore& store, const ParetoQuery& q) {
  if (q.experiment.empty()) return Status::InvalidArgument("experiment is required");
  if (q.x_metric.empty() || q.y_metric.empty()) {
    return Status::InvalidArgument("x and y metrics are required");
  }
  if (!q.join.empty() || !q.on.empty()) return RunJoinedPareto(store, q);
  ASSIGN_OR_RETURN(auto experiment, store.GetExperiment(q.experiment, 0));
  ASSIGN_OR_RETURN(std::unique_ptr<ParetoMemo> memo, ParetoMemo::For(store, q));
  if (memo) {
    if (auto known = memo->Get("front")) return *std::static_pointer_cast<const ParetoResult>(known);
  }
  ASSIGN_OR_RETURN(storage::JobStore::MetricPairs pairs,
                   store.ReadMetricPairs(experiment.id, q.x_metric, q.y_metric, q.filter));
  if (!pairs.x_seen || !pairs.y_seen) {
    const std::string& missing = !pairs.x_seen ? q.x_metric : q.y_metric;
    return Status::InvalidArgument("metric '" + missing + "' is not a metric of any succeeded job "
                                   "of experiment '" + q.experiment + "'");
  }
  RETURN_IF_ERROR(ValidateKeysPolicy(q.keys));
  ParetoResult out;
  out.x_maximized = Maximize(q.x_direction, pairs.x_higher_is_better);
  out.y_maximized = Maximize(q.y_direction, pairs.y_higher_is_better);
  std::vector<ParetoInput> points;
  std::vector<uint32_t> keys;
  points.reserve(pairs.ids.size());
  keys.reserve(pairs.ids.size());
  for (size_t i = 0; i < pairs.ids.size(); ++i) {
    if (pairs.fallback[i] && !q.include_fallbacks) {
      ++out.excluded_fallbacks;
      continue;
    }
    points.push_back({pairs.ids[i], pairs.x[i], pairs.y[i]});
    keys.push_back(pairs.key[i]);
  }
  out.total_points = static_cast<int64_t>(points.size());
  RETURN_IF_ERROR(CheckWholeAnswer(q, out.total_points));
  ASSIGN_OR_RETURN(std::vector<bool> on,
                   GroupedFrontier(store, q, points, keys, pairs.key_names, nullptr, &out));
  const std::vector<size_t> keep = KeptPoints(points, on, q.max_points);
  std::vector<int64_t> ids;
  ids.reserve(keep.size());
  for (size_t i : keep) ids.push_back(points[i].id);
  ASSIGN_OR_RETURN(auto params, store.ParamsOf(ids));
  for (size_t i : keep) {
    out.points.push_back({points[i].id, points[i].x, points[i].y, on[i], params[points[i].id], 0,
                          pairs.key_names[keys[i]]});
  }
  if (memo) memo->Put("front", std::make_shared<const ParetoResult>(out));
  return out;
}

}  // namespace qlab::server
