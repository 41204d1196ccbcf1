#include "evaluators/predictor/predictor_job.h"

#include <chrono>

#include "evaluators/latency/sample_stats.h"
#include "evaluators/predictor/encoding.h"
#include "evaluators/predictor/predictor_model.h"
#include "evaluators/predictor/rank_metrics.h"

namespace qlab::predictor {
namespace {

nlohmann::json DomainJson(const Domain& d, size_t samples) {
  return {{"device", d.device}, {"batch", d.batch}, {"samples", samples}};
}

}  // namespace

StatusOr<JobOutput> RunPredictorJob(const PredictorParams& params,
                                    const std::vector<LatencyRow>& rows, JobContext& context) {
  const auto start = std::chrono::steady_clock::now();
  ASSIGN_OR_RETURN(PredictorTask task, BuildTask(params, rows));
  FitInput input;
  input.width = EncodingWidth(params.space, params.encoding);
  size_t source_samples = 0;
  for (const auto& s : task.source_samples) {
    ASSIGN_OR_RETURN(EncodedRows e, EncodeSamples(params.space, params.encoding, s));
    source_samples += s.size();
    input.sources.push_back(std::move(e));
  }
  ASSIGN_OR_RETURN(input.target_train,
                   EncodeSamples(params.space, params.encoding, task.target_train));
  ASSIGN_OR_RETURN(input.target_test,
                   EncodeSamples(params.space, params.encoding, task.target_test));
  ASSIGN_OR_RETURN(FitOutput fit, FitPredictor(input, params, context));
  const double train_s =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();

  const std::vector<double>& measured = input.target_test.latency_us;
  std::vector<double> flops;
  flops.reserve(task.target_test.size());
  for (const auto& s : task.target_test) {
    ASSIGN_OR_RETURN(double f, ArchFlops(params.space, s.arch_key));
    flops.push_back(f);
  }

  JobOutput out;
  out.metrics = {
      {"spearman_rho", latency::SpearmanRho(fit.predicted_us, measured), "", 0, true},
      {"kendall_tau", KendallTauB(fit.predicted_us, measured), "", 0, true},
      {"mape", MeanAbsPercentError(fit.predicted_us, measured), "%", 0, false},
      {"acc_10pct", PercentWithin(fit.predicted_us, measured, 0.10), "%", 0, true},
      {"flops_spearman_rho", latency::SpearmanRho(flops, measured), "", 0, true},
      {"target_samples", static_cast<double>(task.target_train.size())},
      {"test_samples", static_cast<double>(task.target_test.size())},
      {"source_domains", static_cast<double>(task.sources.size())},
      {"source_samples", static_cast<double>(source_samples)},
      {"train_s", train_s, "s"},
  };

  nlohmann::json domains = nlohmann::json::array();
  for (size_t i = 0; i < task.sources.size(); ++i) {
    domains.push_back(DomainJson(task.sources[i], task.source_samples[i].size()));
  }
  domains.push_back(DomainJson(task.target, task.target_train.size()));
  nlohmann::json artifact = {{"format", kPredictorArtifactFormat},
                             {"space", SpaceName(params.space)},
                             {"encoding", EncodingName(params.encoding)},
                             {"domains", std::move(domains)},
                             {"target", task.sources.size()},
                             {"model", std::move(fit.model)}};
  out.artifacts.push_back({kPredictorArtifactName, "application/json", artifact.dump()});
  return out;
}

}  // namespace qlab::predictor
