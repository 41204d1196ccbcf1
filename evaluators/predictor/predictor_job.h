// The `predictor` job (DESIGN.md section 6): train a latency predictor for one target domain
// on a latency dataset and score it on held-out architectures of that domain.
//
// Metrics (each on the target's test architectures):
//   spearman_rho, kendall_tau   rank agreement of predicted and measured latency (tau-b)
//   mape                        mean absolute percentage error, %
//   acc_10pct                   predictions within +-10 % of the measurement, %
//   flops_spearman_rho          the FLOPs proxy's rank agreement on the same architectures:
//                               the baseline every learned predictor should beat
//   target_samples, test_samples, source_domains, source_samples, train_s
// Artifact `predictor.json` (application/json): format "qlab-latency-predictor/1", space,
// encoding, domains (device, batch, samples; sources first, then the target), target (index of
// the target's head) and model (PredictWithModel evaluates it without LibTorch).
#pragma once

#include <vector>

#include "common/job_output.h"
#include "common/status.h"
#include "evaluators/predictor/dataset.h"
#include "evaluators/predictor/predictor_params.h"

namespace qlab::predictor {

inline constexpr const char* kPredictorArtifactName = "predictor.json";
inline constexpr const char* kPredictorArtifactFormat = "qlab-latency-predictor/1";

// Runs the job on `rows` (fetched by the caller from the coordinator, or read from
// params.dataset_file). Errors: those of BuildTask, INVALID_ARGUMENT for a row whose arch_key
// does not decode, CANCELLED. In target qlab_predictor (links LibTorch).
StatusOr<JobOutput> RunPredictorJob(const PredictorParams& params,
                                    const std::vector<LatencyRow>& rows, JobContext& context);

}  // namespace qlab::predictor
