// Filter expressions over jobs ("datatype in (e2m1, nf4) and mse < 0.01"), compiled to a SQL
// condition with named bind parameters. The grammar is documented in docs/http-api.md.
//
// Names resolve to job columns (state, kind, experiment, worker), `params.X` (a key of the
// job's params JSON), `metrics.X` (a stored metric); a bare name is a job column if it is one,
// else a metric if `metric_names` holds it, else a param.
#pragma once

#include <cstdint>
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

// INVALID_ARGUMENT naming the position and what was expected, for malformed expressions or
// unknown job states; for expressions longer than kMaxFilterBytes or nested deeper than
// kMaxFilterNesting. At most 64 comparisons.
StatusOr<CompiledFilter> CompileFilter(std::string_view expression,
                                       const std::set<std::string>& metric_names);

}  // namespace qlab::storage
