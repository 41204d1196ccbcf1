// The CSV form of an experiment's results: `job_id,experiment,kind,state`, then one
// `params.<key>` column per param key and one `metrics.<name>` column per metric, each in the
// order first seen over the rows, then `comparability_key,environment_key,backend,flag` (README
// "Can I trust this number?"). `qlab results --csv` and the HTTP API both write it here.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace qlab {

struct ResultLine {
  int64_t job_id = 0;
  std::string experiment, kind, state;
  std::string params_json;                             // a JSON object
  std::vector<std::pair<std::string, double>> metrics;
  std::string comparability_key, environment_key, backend, flag;
};

std::string ResultsCsv(const std::vector<ResultLine>& rows);

}  // namespace qlab
