// Where a predictor job's latency dataset comes from: the coordinator's
// ResultService.ExportDataset stream, or (params.dataset_file) a `qlab dataset export` file.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "common/status.h"
#include "evaluators/predictor/dataset.h"

namespace qlab::worker {

// Rows of one space ("nb201" | "fbnet"), of the listed experiments (all when empty).
using DatasetSource = std::function<StatusOr<std::vector<predictor::LatencyRow>>(
    const std::string& space, const std::vector<std::string>& experiments)>;

struct CoordinatorEndpoint;  // worker/coordinator_channel.h

// Reads from the coordinator at `endpoint` over its own channel. UNAVAILABLE (retryable by the
// caller's job, not by this function) when the coordinator cannot be reached; NOT_FOUND when a
// named experiment does not exist.
DatasetSource CoordinatorDatasetSource(const CoordinatorEndpoint& endpoint);

}  // namespace qlab::worker
