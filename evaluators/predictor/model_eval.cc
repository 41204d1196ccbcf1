// PredictWithModel: the forward pass of a saved predictor in plain C++ (predictor_model.h), so
// that tools read the artifact without LibTorch, and tests check that it is the model trained.
#include <cmath>
#include <string>

#include "evaluators/predictor/predictor_model.h"

namespace qlab::predictor {
namespace {

bool IsVector(const nlohmann::json& v, size_t n) {
  if (!v.is_array() || v.size() != n) return false;
  for (const auto& x : v) {
    if (!x.is_number()) return false;
  }
  return true;
}

}  // namespace

StatusOr<double> PredictWithModel(const nlohmann::json& model, int head,
                                  const std::vector<float>& features) {
  const auto bad = [](const std::string& what) {
    return Status::InvalidArgument("predictor model: " + what);
  };
  if (!model.is_object() || !model.contains("feature_mean") || !model.contains("feature_std") ||
      !model.contains("trunk") || !model.contains("heads") || !model["trunk"].is_array() ||
      !model["heads"].is_array()) {
    return bad("needs feature_mean, feature_std, trunk and heads");
  }
  const size_t width = features.size();
  if (!IsVector(model["feature_mean"], width) || !IsVector(model["feature_std"], width)) {
    return bad("feature statistics do not have " + std::to_string(width) + " columns");
  }
  std::vector<double> h(width);
  for (size_t c = 0; c < width; ++c) {
    h[c] = (features[c] - model["feature_mean"][c].get<double>()) /
           model["feature_std"][c].get<double>();
  }
  for (const auto& layer : model["trunk"]) {
    if (!layer.is_object() || !layer.contains("weight") || !layer.contains("bias") ||
        !layer["weight"].is_array() || !IsVector(layer["bias"], layer["weight"].size())) {
      return bad("a trunk layer needs weight [out][in] and bias [out]");
    }
    std::vector<double> next(layer["weight"].size());
    for (size_t o = 0; o < next.size(); ++o) {
      const auto& row = layer["weight"][o];
      if (!IsVector(row, h.size())) return bad("a trunk weight row has the wrong width");
      double acc = layer["bias"][o].get<double>();
      for (size_t i = 0; i < h.size(); ++i) acc += row[i].get<double>() * h[i];
      next[o] = std::max(0.0, acc);
    }
    h = std::move(next);
  }
  if (head < 0 || static_cast<size_t>(head) >= model["heads"].size()) {
    return bad("no head " + std::to_string(head));
  }
  const auto& hd = model["heads"][head];
  if (!hd.is_object() || !IsVector(hd.value("weight", nlohmann::json()), h.size()) ||
      !hd.value("bias", nlohmann::json()).is_number() ||
      !hd.value("log_mean", nlohmann::json()).is_number() ||
      !hd.value("log_std", nlohmann::json()).is_number()) {
    return bad("head " + std::to_string(head) + " needs weight, bias, log_mean and log_std");
  }
  double z = hd["bias"].get<double>();
  for (size_t i = 0; i < h.size(); ++i) z += hd["weight"][i].get<double>() * h[i];
  return std::exp(hd["log_mean"].get<double>() + hd["log_std"].get<double>() * z);
}

}  // namespace qlab::predictor
