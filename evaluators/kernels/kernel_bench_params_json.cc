#include "evaluators/kernels/kernel_bench_params.h"

#include <set>

#include "evaluators/kernels/cpu_gemv.h"

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

Status ReadString(const nlohmann::json& params, const char* key, std::string* out) {
  if (!params.contains(key)) return Status::Ok();
  const auto& v = params[key];
  if (!v.is_string()) return Status::InvalidArgument(std::string(key) + " must be a string, got " + v.dump());
  *out = v.get<std::string>();
  return Status::Ok();
}

// `device`: "cpu", "cuda:N" or an integer N (cuda:N).
Status ReadDevice(const nlohmann::json& params, KernelBenchParams* p) {
  if (!params.contains("device")) return Status::Ok();
  const auto& v = params["device"];
  if (v.is_number_integer()) {
    if (v.get<int64_t>() < 0 || v.get<int64_t>() > 1024) {
      return Status::InvalidArgument("device must be cpu or cuda:N with N in [0, 1024], got " + v.dump());
    }
    p->device = static_cast<int>(v.get<int64_t>());
    return Status::Ok();
  }
  const std::string text = v.is_string() ? v.get<std::string>() : "";
  if (text == "cpu" || text == "cpu:0") {
    p->device_kind = "cpu";
    return Status::Ok();
  }
  if (text.rfind("cuda:", 0) == 0 && text.size() > 5 && text.size() <= 9 &&
      text.find_first_not_of("0123456789", 5) == std::string::npos) {
    p->device = std::stoi(text.substr(5));
    return Status::Ok();
  }
  return Status::InvalidArgument("device must be cpu or cuda:N, got " + v.dump());
}

}  // namespace

StatusOr<KernelBenchParams> KernelBenchParamsFromJson(const nlohmann::json& params) {
  if (!params.is_object()) return Status::InvalidArgument("params must be an object");
  static const std::set<std::string> kKnown = {
      "device", "datatype", "kernel", "group_size", "n", "k", "shape", "model", "batch",
      "repetitions", "threads", "activations", "isa"};
  for (const auto& [key, value] : params.items()) {
    if (!kKnown.count(key)) {
      return Status::InvalidArgument("kernel_bench has no param '" + key +
                                     "' (device, datatype or kernel, group_size, shape or n and k "
                                     "or model, batch, repetitions, threads, activations, isa)");
    }
  }
  KernelBenchParams p;
  RETURN_IF_ERROR(ReadDevice(params, &p));
  std::string datatype, kernel;
  RETURN_IF_ERROR(ReadString(params, "datatype", &datatype));
  RETURN_IF_ERROR(ReadString(params, "kernel", &kernel));
  if (datatype.empty() && kernel.empty()) {
    return Status::InvalidArgument(
        "datatype is required: razer_fp4, int4_asym, nvfp4 or fp16_cublas on CUDA; int4_asym, "
        "nvfp4, razer_fp4, int8_asym or e2m1 on CPU (kernel is an alias)");
  }
  p.kernel = datatype.empty() ? kernel : datatype;
  // One name per format whichever spelling the sweep used: the CUDA kernel's or the registry's.
  if (p.device_kind == "cpu") {
    if (auto f = ParseCpuGemvFormat(p.kernel)) p.kernel = CpuGemvFormatName(*f);
    if (!kernel.empty() && !datatype.empty() && ParseCpuGemvFormat(kernel) != ParseCpuGemvFormat(datatype)) {
      return Status::InvalidArgument("datatype '" + datatype + "' and kernel '" + kernel + "' disagree");
    }
  } else {
    auto cuda_name = [](const std::string& s) { return s == "razer_fp4" ? std::string("razer_w4") : s; };
    p.kernel = cuda_name(p.kernel);
    if (!kernel.empty() && !datatype.empty() && cuda_name(kernel) != cuda_name(datatype)) {
      return Status::InvalidArgument("datatype '" + datatype + "' and kernel '" + kernel + "' disagree");
    }
  }
  RETURN_IF_ERROR(ReadString(params, "model", &p.model));
  const int given = (params.contains("shape") ? 1 : 0) + (params.contains("model") ? 1 : 0) +
                    ((params.contains("n") || params.contains("k")) ? 1 : 0);
  if (given > 1) return Status::InvalidArgument("give one of shape, n and k, or model");
  if (params.contains("model")) {
    if (p.model.empty()) return Status::InvalidArgument("model must be a non-empty path");
  } else if (params.contains("shape")) {
    // [n, k], so that a sweep can list whole shapes as one axis.
    const auto& shape = params["shape"];
    if (!shape.is_array() || shape.size() != 2 || !shape[0].is_number_integer() ||
        !shape[1].is_number_integer()) {
      return Status::InvalidArgument("shape must be [n, k] (two integers), got " + shape.dump());
    }
    p.n = shape[0].get<int64_t>();
    p.k = shape[1].get<int64_t>();
  } else if (!params.contains("n") || !params.contains("k")) {
    return Status::InvalidArgument("n and k (or shape: [n, k], or model: PATH) are required");
  }
  int64_t batch = 1, repetitions = p.device_kind == "cpu" ? 30 : 100, group_size = 0, threads = 0;
  RETURN_IF_ERROR(ReadInt(params, "n", &p.n));
  RETURN_IF_ERROR(ReadInt(params, "k", &p.k));
  RETURN_IF_ERROR(ReadInt(params, "batch", &batch));
  RETURN_IF_ERROR(ReadInt(params, "repetitions", &repetitions));
  RETURN_IF_ERROR(ReadInt(params, "group_size", &group_size));
  RETURN_IF_ERROR(ReadInt(params, "threads", &threads));
  RETURN_IF_ERROR(ReadString(params, "activations", &p.activations));
  RETURN_IF_ERROR(ReadString(params, "isa", &p.isa));
  if (batch < 1 || batch > 8) {
    return Status::InvalidArgument("batch must be in [1, 8], got " + std::to_string(batch));
  }
  if (group_size < 0 || group_size > 4096) {
    return Status::InvalidArgument("group_size must be in [0, 4096], got " + std::to_string(group_size));
  }
  if (threads < 0 || threads > 1024) {
    return Status::InvalidArgument("threads must be in [0, 1024], got " + std::to_string(threads));
  }
  p.batch = static_cast<int>(batch);
  p.group_size = static_cast<int>(group_size);
  p.threads = static_cast<int>(threads);
  p.repetitions = static_cast<int>(std::min<int64_t>(std::max<int64_t>(repetitions, -1), 1 << 30));
  RETURN_IF_ERROR(ValidateKernelBenchParams(p));
  return p;
}

}  // namespace qlab::kernels
