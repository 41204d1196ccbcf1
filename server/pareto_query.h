// A Pareto front over two metrics of an experiment's succeeded jobs, read from the store.
// Shared by ResultService.Pareto (gRPC) and /api/v1/experiments/{name}/pareto (HTTP).
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "common/status.h"
#include "server/join_query.h"
#include "storage/job_store.h"

namespace qlab::server {

enum class ParetoDirection { kAuto, kMinimize, kMaximize };

struct ParetoQuery {
  std::string experiment, x_metric, y_metric;
  ParetoDirection x_direction = ParetoDirection::kAuto;  // kAuto: the metric's higher_is_better
  ParetoDirection y_direction = ParetoDirection::kAuto;
  std::string filter;  // filter expression; "" = every succeeded job
  // > 0: keep every frontier point and an even sample of the dominated ones, at most this
  // many points in all (the frontier alone may exceed it). 0 = every point.
  int64_t max_points = 0;
  // Join (server/join_query.h): "" = the front of `experiment` alone; else the front over the
  // pairs of its succeeded jobs with those of experiment `join` whose `on` params are equal,
  // with x_metric and y_metric naming joined metrics.
  std::string join;
  std::vector<std::string> on;
  // Mixed environments (comparability keys): "group" or "" computes one front per key (per
  // pair of keys with a join); "mix" computes one front over all and sets `warning`.
  std::string keys;
  bool include_fallbacks = false;  // points a fallback kernel produced (left out by default)
  // > 0: with max_points 0, refuse fronts of more points than this (the HTTP API, which would
  // hold every point as JSON, sets kMaxParetoPointsWithoutSampling).
  int64_t whole_answer_limit = 0;
};

struct ParetoPointResult {
  int64_t job_id = 0;
  double x = 0, y = 0;
  bool on_frontier = false;
  std::string params_json;  // with a join: the pair's `on` params
  int64_t job_id_b = 0;     // with a join: B's job (job_id is A's)
  std::string key;          // environment key (with a join: A's + "+" + B's)
};

struct ParetoKeyGroup {
  std::string key;
  int64_t points = 0;
  std::string summary;      // what tells the environment apart (ContextSummary)
};

struct ParetoResult {
  bool x_maximized = false, y_maximized = false;
  int64_t total_points = 0;               // before thinning by max_points
  std::vector<ParetoPointResult> points;  // x ascending, then job id (A's, then B's)
  // With a join: succeeded jobs without a partner, and the joined metric names.
  std::vector<UnmatchedRow> unmatched_a, unmatched_b;
  std::vector<std::string> metric_names;
  std::vector<ParetoKeyGroup> key_groups;  // most points first
  std::string warning;                     // set when environments were mixed or grouped
  int64_t excluded_fallbacks = 0;
};

// Answers about one front, remembered with the experiment's columns until a write changes
// them (ExperimentColumns::Memo): the front itself, and what a caller made of it (the HTTP
// API's JSON), so that a reloaded page or a finished sweep's front costs a lookup.
class ParetoMemo {
 public:
  // nullptr when the query's answer is not remembered: a join, or a filter on live fields or
  // a malformed one (whose error the query itself reports). NOT_FOUND for an unknown experiment.
  static StatusOr<std::unique_ptr<ParetoMemo>> For(storage::JobStore& store, const ParetoQuery& q);
  std::shared_ptr<const void> Get(const std::string& what) const;
  // Kept only when nothing changed the columns since For().
  void Put(const std::string& what, std::shared_ptr<const void> value) const;

 private:
  ParetoMemo() = default;
  std::shared_ptr<storage::ExperimentColumns> columns_;
  uint64_t version_ = 0;
  std::string key_;
};

// Points the HTTP API answers without max_points at most: every point of a bigger experiment
// is a download (the results export streams it), not an answer to hold whole in memory.
inline constexpr int64_t kMaxParetoPointsWithoutSampling = 100000;

// INVALID_ARGUMENT naming max_points when there are more than whole_answer_limit points and
// max_points is 0; INVALID_ARGUMENT when a name is missing, a metric appears in no succeeded job, or the filter
// is malformed; NOT_FOUND for an unknown experiment. With a join, RunJoinQuery's errors and
// ResolveJoinedMetric's (naming x or y) as well.
StatusOr<ParetoResult> RunParetoQuery(storage::JobStore& store, const ParetoQuery& query);

}  // namespace qlab::server
