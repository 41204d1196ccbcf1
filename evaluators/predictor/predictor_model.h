// The latency predictor: an MLP trunk over the architecture encoding and one linear head per
// domain (a learned device embedding), trained on log latency.
//
//   pretrain   minibatches over every source domain's rows (MSE and/or a pairwise logistic
//              ranking loss within each domain);
//   transfer   the target head is ridge regression on the pretrained trunk's features, shrunk
//              toward the mean source head (weight head_prior: with few samples the head stays
//              near what the sources agree on, with many the samples decide); then trunk and
//              heads are fine-tuned together for finetune_steps at 0.3 x lr;
//   scratch    without sources, trunk and target head are trained on the target samples only;
//   calibrate  finally an affine map of the target head's output is fitted to the samples (a
//              ranking loss fixes the order but not the scale).
// Inputs are standardized per column over the training rows; each domain's log latency is
// standardized by its own mean and deviation, which is how a head learns a device's speed from
// a handful of samples while the trunk keeps the ranking it learned elsewhere.
//
// Torch-free interface; predictor_model.cc is the library's only LibTorch translation unit.
#pragma once

#include <vector>

#include <nlohmann/json.hpp>

#include "common/job_output.h"
#include "common/status.h"
#include "evaluators/predictor/encoding.h"
#include "evaluators/predictor/predictor_params.h"

namespace qlab::predictor {

struct FitInput {
  int width = 0;
  std::vector<EncodedRows> sources;  // one per source domain
  EncodedRows target_train;
  EncodedRows target_test;           // features only are used
};

struct FitOutput {
  std::vector<double> predicted_us;  // one per target_test row
  // The trained model (feature_mean, feature_std, trunk, heads; see PredictWithModel). Heads
  // are in FitInput order, sources first, the target last.
  nlohmann::json model;
};

// Trains as described above (params: loss, hidden, layers, epochs, finetune_steps, lr, seed).
// CANCELLED when `context` is cancelled; progress goes to `context`.
StatusOr<FitOutput> FitPredictor(const FitInput& input, const PredictorParams& params,
                                 JobContext& context);

// Evaluates a saved model without LibTorch: latency (us) of one feature row with head `head`.
// INVALID_ARGUMENT when the model is malformed or the row width does not match.
StatusOr<double> PredictWithModel(const nlohmann::json& model, int head,
                                  const std::vector<float>& features);

}  // namespace qlab::predictor
