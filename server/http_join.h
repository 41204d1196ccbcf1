// The HTTP API's joins (`join=B&on=k1,k2` on /results and /pareto, docs/http-api.md): the
// request's parameters as a JoinSpec and the JSON answers, the shapes `qlab results --json
// --join` and `qlab pareto --json --join` print.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "server/join_query.h"
#include "server/pareto_query.h"

namespace qlab::server {

// `on` is the comma-separated text of the `on=` parameter.
JoinSpec HttpJoinSpec(const std::string& experiment, const std::string& join,
                      const std::string& on, const std::string& filter,
                      const std::string& keys = "");

// {"experiment","join","on":[...],"metric_names":[...],"rows":[{"on":{},"job_id_a","job_id_b",
// "state_a","state_b","metrics":{}}],"unmatched_a":[{"job_id","state","on":{}}],"unmatched_b"}
nlohmann::ordered_json JoinedResultsJson(const JoinSpec& spec, const JoinResult& join);

// Adds a joined front's fields to a /pareto answer: "join", "on", "metric_names",
// "unmatched_a"/"unmatched_b" (at most `max_listed` each when > 0) and their totals.
void AddParetoJoinJson(const ParetoQuery& q, const ParetoResult& result, int64_t max_listed,
                       nlohmann::ordered_json* out);

}  // namespace qlab::server
