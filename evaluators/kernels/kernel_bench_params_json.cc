#include "evaluators/kernels/kernel_bench_params.h"

namespace qlab::kernels {
namespace {

Status ReadInt(const nlohmann::json& params, const char* key, int64_t* out) {
  if (!params.contains(key)) return Status::Ok();
  const auto& v = params[key];
  if (!v.is_number_integer()) {
    return Status::InvalidArgument(std::string(key) + " must be an integer, got " + v.dump());
  }
  *out = v.get<int64_t>();
  return Status::Ok();
}

}  // namespace

StatusOr<KernelBenchParams> KernelBenchParamsFromJson(const nlohmann::json& params) {
  if (!params.is_object()) return Status::InvalidArgument("params must be an object");
  for (const auto& [key, value] : params.items()) {
    if (key != "kernel" && key != "n" && key != "k" && key != "shape" && key != "batch" &&
        key != "repetitions") {
      return Status::InvalidArgument("kernel_bench has no param '" + key +
                                     "' (kernel, n, k or shape, batch, repetitions)");
    }
  }
  KernelBenchParams p;
  if (!params.contains("kernel") || !params["kernel"].is_string()) {
    return Status::InvalidArgument("kernel is required: razer_w4, int4_asym, nvfp4 or fp16_cublas");
  }
  p.kernel = params["kernel"].get<std::string>();
  if (params.contains("shape")) {
    // [n, k], so that a sweep can list whole shapes as one axis.
    const auto& shape = params["shape"];
    if (params.contains("n") || params.contains("k")) {
      return Status::InvalidArgument("give either shape or n and k, not both");
    }
    if (!shape.is_array() || shape.size() != 2 || !shape[0].is_number_integer() ||
        !shape[1].is_number_integer()) {
      return Status::InvalidArgument("shape must be [n, k] (two integers), got " + shape.dump());
    }
    p.n = shape[0].get<int64_t>();
    p.k = shape[1].get<int64_t>();
  } else if (!params.contains("n") || !params.contains("k")) {
    return Status::InvalidArgument("n and k (or shape: [n, k]) are required");
  }
  int64_t batch = 1, repetitions = 100;
  RETURN_IF_ERROR(ReadInt(params, "n", &p.n));
  RETURN_IF_ERROR(ReadInt(params, "k", &p.k));
  RETURN_IF_ERROR(ReadInt(params, "batch", &batch));
  RETURN_IF_ERROR(ReadInt(params, "repetitions", &repetitions));
  if (batch < 1 || batch > 8) {
    return Status::InvalidArgument("batch must be in [1, 8], got " + std::to_string(batch));
  }
  p.batch = static_cast<int>(batch);
  p.repetitions = static_cast<int>(std::min<int64_t>(repetitions, 1 << 30));
  RETURN_IF_ERROR(ValidateKernelBenchParams(p));
  return p;
}

}  // namespace qlab::kernels
