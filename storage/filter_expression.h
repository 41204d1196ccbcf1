// Filter expressions over jobs ("datatype in (e2m1, nf4) and mse < 0.01"), compiled to a SQL
// condition with named bind parameters. The grammar is documented in docs/http-api.md.
//
// Names resolve to job columns (state, kind, experiment, worker), `params.X` (a key of the
// job's params JSON), `metrics.X` (a stored metric); a bare name is a job column if it is one,
// else a metric if `metric_names` holds it, else a param.
#pragma once

#include <cstdint>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "common/status.h"

namespace qlab::storage {

using FilterValue = std::variant<int64_t, double, std::string>;

struct CompiledFilter {
  // A condition over `j` (job) and `e` (experiment) aliases, e.g. "(j.kind = :f0)"; "" = none.
  std::string sql;
  std::vector<std::pair<std::string, FilterValue>> binds;  // (":f0", value)
};

// Bounds on hostile input, checked before any recursion or allocation proportional to them.
inline constexpr size_t kMaxFilterBytes = 16 * 1024;
inline constexpr int kMaxFilterNesting = 64;  // '(' and 'not' levels

// A parsed expression, before it becomes SQL (CompileFilter) or is evaluated over the columns
// held in memory (storage/experiment_columns.h). Both give the answer SQLite gives the SQL:
// three-valued logic, numbers below text, a missing param or metric is NULL.
struct FilterField {
  enum Kind { kState, kKind, kExperiment, kWorker, kParam, kMetric } kind = kParam;
  std::string name;  // kParam and kMetric: the param key or metric name
};
struct FilterNode {
  enum Op { kAnd, kOr, kNot, kCompare, kIn, kNotIn, kBetween, kExists } op = kCompare;
  std::vector<FilterNode> children;  // kAnd, kOr: two; kNot: one
  FilterField field;                 // the comparisons
  std::string comparator;            // kCompare: = != < <= > >=
  std::vector<FilterValue> values;   // kCompare: one; kIn, kNotIn: one or more; kBetween: two
};

// The expression parsed; std::nullopt for a blank one. Errors as CompileFilter's.
StatusOr<std::optional<FilterNode>> ParseFilter(std::string_view expression,
                                                const std::set<std::string>& metric_names);
// The SQL of a parsed expression (binds named :f0, :f1, ... in the order of the text).
CompiledFilter CompileFilterNode(const FilterNode& node);
// Whether the expression reads a field that changes while a job lives (state, worker).
bool ReadsLiveFields(const FilterNode& node);

// INVALID_ARGUMENT naming the position and what was expected, for malformed expressions or
// unknown job states; for expressions longer than kMaxFilterBytes or nested deeper than
// kMaxFilterNesting. At most 64 comparisons.
StatusOr<CompiledFilter> CompileFilter(std::string_view expression,
                                       const std::set<std::string>& metric_names);

}  // namespace qlab::storage
