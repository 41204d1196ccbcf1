// Rows of two experiments paired where chosen params are equal (DESIGN.md §10 "Joins"), read
// from the store. One implementation behind ResultService (QueryResults, Pareto) and the HTTP
// API (results, pareto), so that gRPC and HTTP name, pair and refuse alike.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "storage/job_store.h"

namespace qlab::server {

// A join's pairs grow as the product of its sides wherever many rows share a key (every A row
// with every B row of the same values), so a request could ask for far more rows than either
// experiment holds: the pairs are counted first and a join past this many is refused.
inline constexpr int64_t kMaxJoinedRows = 200000;
inline constexpr size_t kMaxJoinKeys = 16;

struct JoinSpec {
  std::string experiment;       // A
  std::string join;             // B
  std::vector<std::string> on;  // the param names compared
  std::string filter;           // filter expression, applied to A's rows and B's alike
  bool succeeded_only = false;  // only succeeded jobs take part (the Pareto front's rows)
  // A side whose succeeded rows come from more than one environment (comparability key) is
  // refused unless this is "group" (pairs are tagged with their keys) or "mix".
  std::string keys;
};

// Every row of an experiment matching `filter` (only the succeeded ones with `succeeded_only`),
// by job id, read a page at a time. INVALID_ARGUMENT for a malformed filter.
StatusOr<std::vector<storage::ResultRow>> ReadResultRows(storage::JobStore& store,
                                                         int64_t experiment_id,
                                                         const std::string& filter,
                                                         bool succeeded_only);

// OK, or INVALID_ARGUMENT naming `keys` for a value other than "", "group" and "mix".
Status ValidateKeysPolicy(const std::string& keys);

// "datatype, group_size" -> {"datatype", "group_size"}. Items stay as typed (trimmed), empty
// ones included, so that ValidateJoin can say what is wrong with them. "" -> {}.
std::vector<std::string> SplitJoinKeys(std::string_view text);

// INVALID_ARGUMENT naming the field: `join` empty, equal to the experiment or longer than 256
// bytes; `on` empty, with more than kMaxJoinKeys names, or a name empty, repeated or longer
// than 256 bytes.
Status ValidateJoin(const JoinSpec& spec);

struct JoinedRow {
  std::string on_json;  // the `on` params as a JSON object, in `on` order
  int64_t job_id_a = 0, job_id_b = 0;
  storage::JobState state_a = storage::JobState::kPending;
  storage::JobState state_b = storage::JobState::kPending;
  std::vector<Metric> metrics;  // A's then B's, named as in JoinResult::metric_names
  std::string environment_key_a, environment_key_b;
  bool fallback = false;        // either side's figure came from a fallback kernel
};

struct UnmatchedRow {
  int64_t job_id = 0;
  storage::JobState state = storage::JobState::kPending;
  std::string on_json;  // the `on` params the row has
};

struct JoinResult {
  std::string experiment_a, experiment_b;
  // A's metric names, then B's; a name both experiments have is "A:name" / "B:name" (with the
  // experiments' names), any other stays plain.
  std::vector<std::string> metric_names;
  size_t a_metrics = 0;  // metric_names[0, a_metrics) are A's
  std::vector<JoinedRow> rows;  // by A's job id, then B's
  std::vector<UnmatchedRow> unmatched_a, unmatched_b;  // by job id
  // Distinct environment keys of each side's succeeded rows, most rows first, with a job of
  // each (to describe it).
  struct KeyCount {
    std::string key;
    int64_t rows = 0;
    int64_t example_job_id = 0;
  };
  std::vector<KeyCount> keys_a, keys_b;
};

// Distinct environment keys of succeeded rows, most rows first.
std::vector<JoinResult::KeyCount> CountKeys(const std::vector<storage::ResultRow>& rows);

// ValidateJoin's errors; NOT_FOUND for an unknown experiment A; INVALID_ARGUMENT naming `join`
// for an unknown experiment B, `filter` for a malformed filter, `on` when the join would
// give more than kMaxJoinedRows rows, and `keys` when a side mixes environments under the
// default policy.
StatusOr<JoinResult> RunJoinQuery(storage::JobStore& store, const JoinSpec& spec);

// The joined name a request's metric name (`field`: "x" or "y") stands for: a joined name as
// it is, "A:name" for a name only A has (likewise B). INVALID_ARGUMENT naming the field for a
// plain name both sides have (it would be ambiguous) or a name neither has.
StatusOr<std::string> ResolveJoinedMetric(const JoinResult& join, const std::string& name,
                                          std::string_view field);

}  // namespace qlab::server
