// The quantize job (see quantize_job.h): params -> JobParams (all validation in one place) ->
// tensor -> EvaluateQuantization -> metrics. nlohmann exceptions never leave this file.
#include "evaluators/datatypes/quantize_job.h"

#include <algorithm>
#include <limits>
#include <memory>
#include <new>
#include <string_view>

#include "common/param_keys.h"
#include "evaluators/datatypes/evaluate.h"
#include "evaluators/datatypes/hw_cost.h"
#include "evaluators/datatypes/quantizer.h"
#include "evaluators/datatypes/registry.h"
#include "evaluators/datatypes/safetensors.h"
#include "evaluators/datatypes/synthetic.h"

namespace qlab::datatypes {
namespace {

using nlohmann::json;

constexpr std::string_view kKnownKeys[] = {
    "datatype",     "group_size",       "scale_search",  "threads", "distribution", "shape",
    "seed",         "nu",               "outlier_fraction", "outlier_scale", "safetensors",
    "tensor",       "sf4_nu"};

// Names people plausibly use for a known key; reported as "did you mean".
constexpr std::pair<std::string_view, std::string_view> kAliases[] = {
    {"dtype", "datatype"},         {"data_type", "datatype"},   {"format", "datatype"},
    {"groupsize", "group_size"},   {"group", "group_size"},     {"block_size", "group_size"},
    {"blocksize", "group_size"},   {"clip_search", "scale_search"}, {"dist", "distribution"},
    {"safetensor", "safetensors"}, {"tensors", "tensor"},       {"df", "nu"},
};

Status CheckKeys(const json& params) {
  return CheckParamKeys(params, kKnownKeys, kAliases, /*reject_other_unknown=*/false, "a quantize");
}

struct JobParams {
  Datatype datatype = Datatype::kInt4Asym;
  QuantizerOptions quantizer;
  int threads = 0;
  bool synthetic = true;
  SyntheticSpec spec;
  std::string safetensors_path;
  std::string tensor;
};

constexpr double kAnyFinite = std::numeric_limits<double>::max();

bool IsGlob(std::string_view s) { return s.find_first_of("*?[") != std::string_view::npos; }

StatusOr<JobParams> ParseParams(const json& params) {
  if (!params.is_object()) return Status::InvalidArgument("params must be a JSON object");
  RETURN_IF_ERROR(CheckKeys(params));
  JobParams p;
  RETURN_IF_ERROR(ReadQuantizerParams(params, &p.datatype, &p.quantizer));
  RETURN_IF_ERROR(ReadIntParam(params, "threads", 0, 1024, &p.threads));

  std::string distribution;
  RETURN_IF_ERROR(ReadStringParam(params, "distribution", &distribution));
  RETURN_IF_ERROR(ReadStringParam(params, "safetensors", &p.safetensors_path));
  const bool has_distribution = !distribution.empty(), has_file = !p.safetensors_path.empty();
  if (has_distribution == has_file) {
    return Status::InvalidArgument(
        has_file ? "distribution and safetensors are exclusive: give one tensor source"
                 : "a tensor source is required: distribution or safetensors");
  }
  p.synthetic = has_distribution;
  if (p.synthetic) {
    ASSIGN_OR_RETURN(p.spec.distribution, ParseDistribution(distribution));
    auto shape = params.find("shape");
    if (shape == params.end()) return Status::InvalidArgument("shape [rows, cols] is required");
    if (!shape->is_array() || shape->size() != 2 || !(*shape)[0].is_number_integer() ||
        !(*shape)[1].is_number_integer() || (*shape)[0].get<int64_t>() <= 0 ||
        (*shape)[1].get<int64_t>() <= 0) {
      return Status::InvalidArgument("shape must be [rows, cols] with positive integers, got " +
                                     shape->dump());
    }
    p.spec.rows = (*shape)[0].get<int64_t>();
    p.spec.cols = (*shape)[1].get<int64_t>();
    if (p.spec.rows > kMaxSyntheticElements / p.spec.cols) {
      return Status::InvalidArgument("shape " + shape->dump() + " has more than 2^28 elements");
    }
    int64_t seed = 0;
    RETURN_IF_ERROR(ReadIntParam(params, "seed", 0, INT64_MAX, &seed));
    p.spec.seed = static_cast<uint64_t>(seed);
    RETURN_IF_ERROR(ReadNumberParam(params, "nu", 0, kAnyFinite, &p.spec.nu));
    if (!(p.spec.nu > 0)) return Status::InvalidArgument("nu: must be > 0");
    RETURN_IF_ERROR(ReadNumberParam(params, "outlier_fraction", 0, 1, &p.spec.outlier_fraction));
    RETURN_IF_ERROR(
        ReadNumberParam(params, "outlier_scale", -kAnyFinite, kAnyFinite, &p.spec.outlier_scale));
  } else {
    RETURN_IF_ERROR(ReadStringParam(params, "tensor", &p.tensor));
    if (p.tensor.empty()) {
      return Status::InvalidArgument("tensor (a name or glob) is required with safetensors");
    }
  }

  // A quantizer validates the options; for a synthetic source the group size is checked too.
  ASSIGN_OR_RETURN(Quantizer quantizer, Quantizer::Create(p.datatype, p.quantizer));
  if (p.synthetic) {
    Status s = quantizer.GroupSizeFor(p.spec.cols).status();
    if (!s.ok()) return s.WithContext("group_size");
  }
  return p;
}

void AddMetric(JobOutput& out, const char* name, double value, const char* unit,
               bool higher_is_better) {
  Metric m;
  m.name = name;
  m.value = value;
  m.unit = unit;
  m.higher_is_better = higher_is_better;
  out.metrics.push_back(std::move(m));
}

StatusOr<JobOutput> RunParsed(const JobParams& p, JobContext& context) {
  ASSIGN_OR_RETURN(Quantizer quantizer, Quantizer::Create(p.datatype, p.quantizer));
  std::vector<float> weights;
  int64_t rows = 0, cols = 0;
  if (p.synthetic) {
    ASSIGN_OR_RETURN(weights, GenerateSynthetic(p.spec, p.threads));
    rows = p.spec.rows;
    cols = p.spec.cols;
  } else {
    ASSIGN_OR_RETURN(std::unique_ptr<SafetensorsFile> file,
                     SafetensorsFile::Open(p.safetensors_path));
    std::string name = p.tensor;
    if (IsGlob(name)) {
      // The server expands globs into one job per tensor; accept a glob naming exactly one.
      const std::vector<std::string> names = file->Match(name);
      if (names.size() != 1) {
        return Status::InvalidArgument("tensor glob '" + name + "' matches " +
                                       std::to_string(names.size()) +
                                       " tensors; expand it with ExpandTensorNames (one job per "
                                       "tensor)");
      }
      name = names[0];
    }
    ASSIGN_OR_RETURN(WeightMatrix m, file->ReadMatrix(name));
    rows = m.rows;
    cols = m.cols;
    weights = std::move(m.values);
  }
  if (context.cancelled()) return Status::Cancelled("quantization cancelled");
  EvaluateOptions options;
  options.num_threads = p.threads;
  options.context = &context;
  ASSIGN_OR_RETURN(QuantizationReport r,
                   EvaluateQuantization(quantizer, weights.data(), rows, cols, options));
  JobOutput out;
  AddMetric(out, "mse", r.mse, "", false);
  AddMetric(out, "sqnr_db", r.sqnr_db, "dB", true);
  AddMetric(out, "max_abs_err", r.max_abs_err, "", false);
  AddMetric(out, "kl", r.kl, "nats", false);
  AddMetric(out, "bits_per_weight", r.bits_per_weight, "bits", false);
  AddMetric(out, "hw_cost", EstimateHardwareCost(quantizer, r.group_size).relative, "", false);
  AddMetric(out, "bit_sparsity", r.bit_sparsity, "", true);
  for (size_t b = 0; b < r.bit_zero_fraction.size(); ++b) {
    const std::string name = "bit_sparsity_p" + std::to_string(b);
    AddMetric(out, name.c_str(), r.bit_zero_fraction[b], "", true);
  }
  AddMetric(out, "num_weights", static_cast<double>(r.num_weights), "", true);
  return out;
}

}  // namespace

Status ReadQuantizerParams(const json& params, Datatype* datatype, QuantizerOptions* options) {
  std::string name;
  RETURN_IF_ERROR(ReadStringParam(params, "datatype", &name));
  if (name.empty()) return Status::InvalidArgument("datatype: required (a registry name)");
  const DatatypeTraits* traits = FindDatatype(name);
  if (traits == nullptr) return Status::InvalidArgument("datatype: unknown datatype '" + name + "'");
  *datatype = traits->type;

  RETURN_IF_ERROR(ReadIntParam(params, "group_size", 0, int64_t{1} << 30, &options->group_size));

  std::string scale_search = "none";
  RETURN_IF_ERROR(ReadStringParam(params, "scale_search", &scale_search));
  if (scale_search == "none") {
    options->scale_search = ScaleSearch::kNone;
  } else if (scale_search == "mse") {
    options->scale_search = ScaleSearch::kMse;
  } else {
    return Status::InvalidArgument("scale_search: must be none or mse, got '" + scale_search + "'");
  }

  RETURN_IF_ERROR(ReadNumberParam(params, "sf4_nu", 0, 1e6, &options->sf4_nu));
  if (!(options->sf4_nu > 0)) return Status::InvalidArgument("sf4_nu: must be in (0, 1e6]");
  return Status::Ok();
}

Status ValidateQuantizeParams(const nlohmann::json& params) {
  try {
    return ParseParams(params).status();
  } catch (const std::exception& e) {
    return Status::InvalidArgument(std::string("bad quantize params: ") + e.what());
  }
}

StatusOr<JobOutput> RunQuantizeJob(const nlohmann::json& params, JobContext& context) {
  try {
    ASSIGN_OR_RETURN(JobParams p, ParseParams(params));
    return RunParsed(p, context);
  } catch (const std::bad_alloc&) {
    return Status::ResourceExhausted("out of memory running the quantize job");
  } catch (const std::exception& e) {
    return Status::InvalidArgument(std::string("bad quantize params: ") + e.what());
  }
}

StatusOr<std::vector<std::string>> ExpandTensorNames(const nlohmann::json& params) {
  try {
    ASSIGN_OR_RETURN(JobParams p, ParseParams(params));
    if (p.synthetic) return std::vector<std::string>{""};
    if (!IsGlob(p.tensor)) return std::vector<std::string>{p.tensor};
    ASSIGN_OR_RETURN(std::unique_ptr<SafetensorsFile> file,
                     SafetensorsFile::Open(p.safetensors_path));
    std::vector<std::string> names = file->Match(p.tensor);
    if (names.empty()) {
      return Status::NotFound("no tensor in '" + p.safetensors_path + "' matches '" + p.tensor +
                              "'");
    }
    return names;
  } catch (const std::exception& e) {
    return Status::InvalidArgument(std::string("bad quantize params: ") + e.what());
  }
}

}  // namespace qlab::datatypes
