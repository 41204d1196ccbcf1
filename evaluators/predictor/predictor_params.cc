// Predictor job params (see predictor_params.h). nlohmann exceptions never leave this file:
// every access is type-checked first (common/param_keys.h).
#include "evaluators/predictor/predictor_params.h"

#include <string_view>
#include <utility>

#include "common/param_keys.h"

namespace qlab::predictor {
namespace {

using nlohmann::json;

constexpr std::string_view kKnownKeys[] = {
    "space",         "target_device", "target_batch", "target_samples", "test_samples",
    "source_devices", "source_batches", "experiment",  "dataset_file",   "encoding",
    "loss",          "hidden",        "layers",       "epochs",         "finetune_steps",
    "lr",            "seed",          "head_prior"};

constexpr std::pair<std::string_view, std::string_view> kAliases[] = {
    {"target", "target_device"},     {"device", "target_device"},
    {"batch", "target_batch"},       {"n", "target_samples"},
    {"samples", "target_samples"},   {"train_samples", "target_samples"},
    {"shots", "target_samples"},     {"sources", "source_devices"},
    {"source_device", "source_devices"}, {"source_batch", "source_batches"},
    {"experiments", "experiment"},   {"dataset", "dataset_file"},
    {"file", "dataset_file"},        {"features", "encoding"},
    {"learning_rate", "lr"},         {"hidden_size", "hidden"},
    {"num_layers", "layers"},        {"steps", "finetune_steps"}};

template <typename T>
Status ReadEnum(const json& params, const char* key,
                std::initializer_list<std::pair<std::string_view, T>> names, T* out) {
  std::string value;
  RETURN_IF_ERROR(ReadStringParam(params, key, &value));
  if (value.empty()) return Status::Ok();
  std::string known;
  for (const auto& [name, v] : names) {
    if (value == name) {
      *out = v;
      return Status::Ok();
    }
    known += (known.empty() ? "" : ", ") + std::string(name);
  }
  return Status::InvalidArgument(std::string(key) + ": unknown value '" + value +
                                 "' (known: " + known + ")");
}

}  // namespace

std::string_view SpaceName(Space space) { return space == Space::kNb201 ? "nb201" : "fbnet"; }

std::string_view EncodingName(Encoding encoding) {
  switch (encoding) {
    case Encoding::kOneHot: return "onehot";
    case Encoding::kOneHotFlops: return "onehot_flops";
    case Encoding::kFlops: return "flops";
  }
  return "?";
}

std::string_view LossName(Loss loss) {
  switch (loss) {
    case Loss::kMse: return "mse";
    case Loss::kRank: return "rank";
    case Loss::kMseRank: return "mse_rank";
  }
  return "?";
}

StatusOr<PredictorParams> ParsePredictorParams(const json& params) {
  if (!params.is_object()) return Status::InvalidArgument("params must be a JSON object");
  RETURN_IF_ERROR(CheckParamKeys(params, kKnownKeys, kAliases, /*reject_other_unknown=*/true,
                                 "a predictor"));
  PredictorParams p;
  if (!params.contains("space")) return Status::InvalidArgument("space: required (nb201 or fbnet)");
  RETURN_IF_ERROR(ReadEnum<Space>(params, "space", {{"nb201", Space::kNb201}, {"fbnet", Space::kFbnet}},
                                  &p.space));
  RETURN_IF_ERROR(ReadStringParam(params, "target_device", &p.target_device));
  if (p.target_device.empty()) {
    return Status::InvalidArgument(
        "target_device: required (a device string or glob of the dataset, e.g. \"cpu:*EPYC*\")");
  }
  int64_t v = p.target_batch;
  RETURN_IF_ERROR(ReadIntParam(params, "target_batch", 1, 4096, &v));
  p.target_batch = static_cast<int>(v);
  if (!params.contains("target_samples")) {
    return Status::InvalidArgument(
        "target_samples: required (how many measured target architectures the predictor sees)");
  }
  v = 0;
  RETURN_IF_ERROR(ReadIntParam(params, "target_samples", 2, 100000, &v));
  p.target_samples = static_cast<int>(v);
  v = 0;
  RETURN_IF_ERROR(ReadIntParam(params, "test_samples", 0, 10000000, &v));
  p.test_samples = static_cast<int>(v);

  RETURN_IF_ERROR(ReadStringListParam(params, "source_devices", &p.source_devices));
  p.source_batches = {p.target_batch};
  if (auto it = params.find("source_batches"); it != params.end() && !it->is_null()) {
    if (!it->is_array()) {
      return Status::InvalidArgument("source_batches: must be a list of batch sizes, got " +
                                     it->dump());
    }
    p.source_batches.clear();
    for (size_t i = 0; i < it->size(); ++i) {
      json one = {{"source_batches", (*it)[i]}};
      int64_t b = 0;
      Status st = ReadIntParam(one, "source_batches", 1, 4096, &b);
      if (!st.ok()) {
        return Status::InvalidArgument("source_batches[" + std::to_string(i) + "]" +
                                       st.message().substr(std::string("source_batches").size()));
      }
      p.source_batches.push_back(static_cast<int>(b));
    }
  }
  RETURN_IF_ERROR(ReadStringListParam(params, "experiment", &p.experiments));
  RETURN_IF_ERROR(ReadStringParam(params, "dataset_file", &p.dataset_file));
  if (!p.dataset_file.empty() && !p.experiments.empty()) {
    return Status::InvalidArgument(
        "experiment: cannot filter a dataset_file (an export has no experiment column); export "
        "it with `qlab dataset export --experiment NAME` instead");
  }
  RETURN_IF_ERROR(ReadEnum<Encoding>(params, "encoding",
                                     {{"onehot", Encoding::kOneHot},
                                      {"onehot_flops", Encoding::kOneHotFlops},
                                      {"flops", Encoding::kFlops}},
                                     &p.encoding));
  RETURN_IF_ERROR(ReadEnum<Loss>(
      params, "loss", {{"mse", Loss::kMse}, {"rank", Loss::kRank}, {"mse_rank", Loss::kMseRank}},
      &p.loss));
  v = p.hidden;
  RETURN_IF_ERROR(ReadIntParam(params, "hidden", 4, 4096, &v));
  p.hidden = static_cast<int>(v);
  v = p.layers;
  RETURN_IF_ERROR(ReadIntParam(params, "layers", 1, 8, &v));
  p.layers = static_cast<int>(v);
  v = p.epochs;
  RETURN_IF_ERROR(ReadIntParam(params, "epochs", 0, 10000, &v));
  p.epochs = static_cast<int>(v);
  v = p.finetune_steps;
  RETURN_IF_ERROR(ReadIntParam(params, "finetune_steps", 0, 100000, &v));
  p.finetune_steps = static_cast<int>(v);
  RETURN_IF_ERROR(ReadNumberParam(params, "lr", 1e-9, 1.0, &p.lr));
  RETURN_IF_ERROR(ReadNumberParam(params, "head_prior", 0.0, 1e6, &p.head_prior));
  v = static_cast<int64_t>(p.seed);
  RETURN_IF_ERROR(ReadIntParam(params, "seed", 0, int64_t{1} << 53, &v));
  p.seed = static_cast<uint64_t>(v);
  return p;
}

Status ValidatePredictorParams(const json& params) { return ParsePredictorParams(params).status(); }

}  // namespace qlab::predictor
