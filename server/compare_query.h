// Regression view: `qlab compare A B`, ResultService.Compare and /api/v1/compare. For the jobs
// of experiments A and B with equal params, the metrics that moved beyond their noise, beside
// what differs between the two experiments' environments (build, driver, BLAS, ...).
//
// Noise of one side's value: the standard error of the mean of its repeated runs (two or more
// succeeded jobs with the same params), else the standard error the evaluator stored with the
// metric. A move counts when |mean_B - mean_A| > threshold_sigma * sqrt(se_A^2 + se_B^2); a
// metric with no noise estimate on either side is never called moved (it is counted in
// `no_noise` and listed with include_unmoved).
#pragma once

#include <string>

#include <nlohmann/json.hpp>

#include "common/status.h"
#include "storage/job_store.h"

namespace qlab::server {

struct CompareQuery {
  std::string a, b;
  double threshold_sigma = 0;    // 0 = 3
  bool include_unmoved = false;
};

// The JSON document of CompareResponse.compare_json. NOT_FOUND for an unknown experiment;
// INVALID_ARGUMENT naming a, b or threshold_sigma (negative, or not finite).
StatusOr<nlohmann::json> RunCompareQuery(storage::JobStore& store, const CompareQuery& query);

}  // namespace qlab::server
