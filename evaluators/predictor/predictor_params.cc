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

// One table per enum: the names a sweep writes and the names an artifact records.
template <typename T>
using NameTable = std::pair<std::string_view, T>;
constexpr NameTable<Space> kSpaceNames[] = {{"nb201", Space::kNb201}, {"fbnet", Space::kFbnet}};
constexpr NameTable<Encoding> kEncodingNames[] = {{"onehot", Encoding::kOneHot},
                                                  {"onehot_flops", Encoding::kOneHotFlops},
                                                  {"flops", Encoding::kFlops}};
constexpr NameTable<Loss> kLossNames[] = {
    {"mse", Loss::kMse}, {"rank", Loss::kRank}, {"mse_rank", Loss::kMseRank}};

template <typename T, size_t N>
std::string_view NameOf(const NameTable<T> (&table)[N], T value) {
  for (const auto& [name, v] : table) {
    if (v == value) return name;
  }
  return "?";
}

template <typename T, size_t N>
Status ReadEnum(const json& params, const char* key, const NameTable<T> (&table)[N], T* out) {
  std::string value;
  RETURN_IF_ERROR(ReadStringParam(params, key, &value));
  if (value.empty()) return Status::Ok();
  std::string known;
  for (const auto& [name, v] : table) {
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

std::string_view SpaceName(Space space) { return NameOf(kSpaceNames, space); }
std::string_view EncodingName(Encoding encoding) { return NameOf(kEncodingNames, encoding); }
std::string_view LossName(Loss loss) { return NameOf(kLossNames, loss); }

StatusOr<PredictorParams> ParsePredictorParams(const json& params) {
  if (!params.is_object()) return Status::InvalidArgument("params must be a JSON object");
  RETURN_IF_ERROR(CheckParamKeys(params, kKnownKeys, kAliases, /*reject_other_unknown=*/true,
                                 "a predictor"));
  PredictorParams p;
  if (!params.contains("space")) return Status::InvalidArgument("space: required (nb201 or fbnet)");
  RETURN_IF_ERROR(ReadEnum(params, "space", kSpaceNames, &p.space));
  RETURN_IF_ERROR(ReadStringParam(params, "target_device", &p.target_device));
  if (p.target_device.empty()) {
    return Status::InvalidArgument(
        "target_device: required (a device string or glob of the dataset, e.g. \"cpu:*EPYC*\")");
  }
  RETURN_IF_ERROR(ReadIntParam(params, "target_batch", 1, 4096, &p.target_batch));
  if (!params.contains("target_samples")) {
    return Status::InvalidArgument(
        "target_samples: required (how many measured target architectures the predictor sees)");
  }
  RETURN_IF_ERROR(ReadIntParam(params, "target_samples", 2, 100000, &p.target_samples));
  RETURN_IF_ERROR(ReadIntParam(params, "test_samples", 0, 10000000, &p.test_samples));

  RETURN_IF_ERROR(ReadStringListParam(params, "source_devices", &p.source_devices));
  p.source_batches = {p.target_batch};
  if (auto it = params.find("source_batches"); it != params.end() && !it->is_null()) {
    if (!it->is_array()) {
      return Status::InvalidArgument("source_batches: must be a list of batch sizes, got " +
                                     it->dump());
    }
    p.source_batches.clear();
    for (size_t i = 0; i < it->size(); ++i) {
      int64_t batch = 0;
      RETURN_IF_ERROR(ReadIntValue((*it)[i], "source_batches[" + std::to_string(i) + "]", 1,
                                   4096, &batch));
      p.source_batches.push_back(static_cast<int>(batch));
    }
  }
  RETURN_IF_ERROR(ReadStringListParam(params, "experiment", &p.experiments));
  RETURN_IF_ERROR(ReadStringParam(params, "dataset_file", &p.dataset_file));
  if (!p.dataset_file.empty() && !p.experiments.empty()) {
    return Status::InvalidArgument(
        "experiment: cannot filter a dataset_file (an export has no experiment column); export "
        "it with `qlab dataset export --experiment NAME` instead");
  }
  RETURN_IF_ERROR(ReadEnum(params, "encoding", kEncodingNames, &p.encoding));
  RETURN_IF_ERROR(ReadEnum(params, "loss", kLossNames, &p.loss));
  RETURN_IF_ERROR(ReadIntParam(params, "hidden", 4, 4096, &p.hidden));
  RETURN_IF_ERROR(ReadIntParam(params, "layers", 1, 8, &p.layers));
  RETURN_IF_ERROR(ReadIntParam(params, "epochs", 0, 10000, &p.epochs));
  RETURN_IF_ERROR(ReadIntParam(params, "finetune_steps", 0, 100000, &p.finetune_steps));
  RETURN_IF_ERROR(ReadNumberParam(params, "lr", 1e-9, 1.0, &p.lr));
  RETURN_IF_ERROR(ReadNumberParam(params, "head_prior", 0.0, 1e6, &p.head_prior));
  int64_t seed = static_cast<int64_t>(p.seed);
  RETURN_IF_ERROR(ReadIntParam(params, "seed", 0, int64_t{1} << 53, &seed));
  p.seed = static_cast<uint64_t>(seed);
  return p;
}

Status ValidatePredictorParams(const json& params) { return ParsePredictorParams(params).status(); }

}  // namespace qlab::predictor
