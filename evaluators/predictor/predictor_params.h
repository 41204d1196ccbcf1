// Parameters of a `predictor` job (DESIGN.md section 6): which latency rows train a latency
// predictor for which device, and how. Parsed and checked without LibTorch and without touching
// the file system, so the server refuses a bad sweep at submit time.
//
// A *domain* is one (device, batch) pair of the latency dataset: the device string as stored
// ("cpu:AMD EPYC", "cuda:NVIDIA H100 80GB HBM3") and the batch size. The predictor learns one
// shared architecture trunk and one small head per domain (a device embedding); the target
// domain's head is fitted on `target_samples` measured architectures, the trunk transferred
// from the source domains (HELP/MultiPredict-style few-shot transfer). Without sources it is
// trained from scratch on the target samples alone, which is the baseline transfer must beat.
//
// Params (unknown keys are rejected; misspellings get a suggestion):
//   space           "nb201" | "fbnet"                                              (required)
//   target_device   glob over the dataset's device strings; must match exactly one (required)
//   target_batch    int in [1, 4096]. Default: 1
//   target_samples  int in [2, 100000]: target architectures the predictor may see (required)
//   test_samples    int >= 0: held-out target architectures scored; 0 = every other target
//                   architecture in the dataset. Default: 0
//   source_devices  glob or list of globs over device strings; [] = no transfer. Default: []
//   source_batches  list of ints in [1, 4096]; [] = every batch. Default: [target_batch]
//                   The target domain itself is never a source (that would leak the test set).
//   experiment      name or list of names: use only rows of these experiments. Default: all
//   dataset_file    path of a `qlab dataset export` file (CSV or JSON) to read instead of
//                   asking the coordinator. Default: none
//   encoding        "onehot" (operation per edge/layer) | "onehot_flops" (plus log FLOPs and
//                   log params from nas_cost.h) | "flops" (log FLOPs and params only: the
//                   proxy baseline). Default: "onehot_flops"
//   loss            "mse" | "rank" (pairwise logistic ranking loss) | "mse_rank". Default:
//                   "mse_rank"
//   hidden          int in [4, 4096]: width of the trunk's hidden layers. Default: 128
//   layers          int in [1, 8]: hidden layers of the trunk. Default: 2
//   epochs          int in [0, 10000]: passes over the source rows. Default: 60
//   finetune_steps  int in [0, 100000]: steps on the target samples (minibatches of up to 512).
//                   Default: 100
//   head_prior      number in [0, 1e6]: ridge weight that pulls the target head toward the
//                   mean source head (predictor_model.h). Default: 10
//   lr              number in (0, 1]: Adam learning rate of pretraining. Default: 0.001
//   seed            int >= 0: target split, initialisation and minibatch order. Default: 1
// The sample split is by architecture: each (domain, architecture) appears once (repeated
// measurements are merged by their median), and no test architecture is a training sample.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "common/status.h"
#include "evaluators/latency/latency_params.h"

namespace qlab::predictor {

using latency::Space;
enum class Encoding : uint8_t { kOneHot = 0, kOneHotFlops = 1, kFlops = 2 };
enum class Loss : uint8_t { kMse = 0, kRank = 1, kMseRank = 2 };

struct PredictorParams {
  Space space = Space::kNb201;
  std::string target_device;
  int target_batch = 1;
  int target_samples = 0;
  int test_samples = 0;
  std::vector<std::string> source_devices;
  std::vector<int> source_batches;  // filled with {target_batch} when the key is absent
  std::vector<std::string> experiments;
  std::string dataset_file;
  Encoding encoding = Encoding::kOneHotFlops;
  Loss loss = Loss::kMseRank;
  int hidden = 128;
  int layers = 2;
  int epochs = 60;
  int finetune_steps = 100;
  double head_prior = 10;
  double lr = 1e-3;
  uint64_t seed = 1;
};

// INVALID_ARGUMENT naming the field for anything wrong. Opens no file.
StatusOr<PredictorParams> ParsePredictorParams(const nlohmann::json& params);
Status ValidatePredictorParams(const nlohmann::json& params);

std::string_view SpaceName(Space space);
std::string_view EncodingName(Encoding encoding);
std::string_view LossName(Loss loss);

}  // namespace qlab::predictor
