// kernel_bench on CPU devices (see cpu_kernel_bench_job.h).
#include "evaluators/kernels/cpu_kernel_bench_job.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <utility>

#include <nlohmann/json.hpp>

#include "evaluators/kernels/cpu_gemv.h"
#include "evaluators/kernels/cpu_gemv_bench.h"
#include "evaluators/kernels/kernel_bench_params.h"

#if defined(QLAB_KERNELS_HAVE_MODEL_SHAPES)
#include "evaluators/accuracy/checkpoint.h"
#endif

namespace qlab::kernels {
namespace {

void Add(JobOutput& out, const std::string& name, double value, const std::string& unit,
         bool higher_is_better, double stderr_value = 0) {
  out.metrics.push_back({name, value, unit, stderr_value, higher_is_better});
}

nlohmann::json ResultJson(const CpuGemvBenchResult& r) {
  return {{"format", CpuGemvFormatName(r.format)},
          {"n", r.n},
          {"k", r.k},
          {"batch", r.m},
          {"median_us", r.kernel.median_us},
          {"p10_us", r.kernel.p10_us},
          {"p90_us", r.kernel.p90_us},
          {"effective_gbps", r.effective_gbps},
          {"read_bw_gbps", r.read_bw_gbps},
          {"pct_of_read_bw", r.pct_of_read_bw()},
          {"fp32_blas_median_us", r.blas.median_us},
          {"speedup_vs_fp32_blas", r.speedup_vs_blas()},
          {"max_rel_err", r.check.max_rel_err},
          {"rows_checked", r.rows_checked},
          {"calls_per_sample", r.kernel.calls_per_sample},
          {"rotation_copies", r.rotation_copies}};
}

Status CheckStatus(const CpuGemvBenchResult& r) {
  KernelBenchCheck check;
  check.shape = {r.n, r.k, r.m};
  check.rows_checked = r.rows_checked;
  check.comparison = r.check;
  if (r.check.worst_index >= 0 && r.rows_checked > 0) {
    check.worst_batch = static_cast<int>(r.check.worst_index / r.rows_checked);
    check.worst_row = r.check.worst_index % r.rows_checked;  // index among the sampled rows
  }
  const Status s = KernelBenchCheckStatus(check);
  if (s.ok()) return s;
  // The shared message names a CUDA kernel; say which CPU format and path failed instead.
  return Status::Internal(std::string("CPU ") + CpuGemvFormatName(r.format) + " (" + CpuIsaName(r.isa) +
                          ", " + ActivationModeName(r.activations) + " activations): " + s.message());
}

}  // namespace

StatusOr<std::vector<LinearShape>> ModelLinearShapes(const std::string& model_path) {
#if defined(QLAB_KERNELS_HAVE_MODEL_SHAPES)
  ASSIGN_OR_RETURN(accuracy::ModelConfig config, accuracy::ReadModelShapes(model_path));
  std::vector<LinearShape> shapes;
  for (const accuracy::TensorSpec& spec : accuracy::RequiredTensors(config)) {
    if (spec.role != accuracy::TensorRole::kBlockLinear || spec.shape.size() != 2) continue;
    auto it = std::find_if(shapes.begin(), shapes.end(), [&](const LinearShape& s) {
      return s.n == spec.shape[0] && s.k == spec.shape[1];
    });
    if (it == shapes.end()) {
      shapes.push_back({spec.shape[0], spec.shape[1], 1});
    } else {
      ++it->count;
    }
  }
  if (shapes.empty()) return Status::InvalidArgument("model '" + model_path + "' has no block linears");
  return shapes;
#else
  return Status::Unimplemented("kernel_bench: this build reads no model files (evaluators/accuracy was not built): " +
                               model_path);
#endif
}

StatusOr<JobOutput> RunCpuKernelBenchJob(const KernelBenchParams& params, JobContext& ctx) {
  RETURN_IF_ERROR(ValidateKernelBenchParams(params));
  const CpuGemvFormat format = *ParseCpuGemvFormat(params.kernel);
  CpuBenchOptions options;
  options.repetitions = params.repetitions;
  options.threads = params.threads;
  options.isa = params.isa.empty() ? BestCpuIsa() : *ParseCpuIsa(params.isa);
  options.activations = *ParseActivationMode(params.activations);

  std::vector<LinearShape> shapes;
  if (params.model.empty()) {
    shapes.push_back({params.n, params.k, 1});
  } else {
    ASSIGN_OR_RETURN(shapes, ModelLinearShapes(params.model));
    for (const LinearShape& s : shapes) {
      if (s.k % 128 != 0) {
        return Status::InvalidArgument("kernel_bench: model '" + params.model + "' has a block linear of shape [" +
                                       std::to_string(s.n) + ", " + std::to_string(s.k) +
                                       "]; the CPU kernels need k a multiple of 128");
      }
    }
  }

  if (!params.model.empty()) {
    // Between two uses of one matrix a decoder reads every other linear of the model: rotate
    // through that many bytes (up to the default 2x LLC), so a model that fits in cache is
    // timed in cache and one that does not is timed from DRAM.
    int64_t model_bytes = 0;
    for (const LinearShape& s : shapes) model_bytes += s.count * CpuGemvWeightBytes(format, s.n, s.k);
    options.rotation_bytes = std::min(model_bytes, 2 * LastLevelCacheBytes());
  }
  std::vector<CpuGemvBenchResult> results;
  for (size_t i = 0; i < shapes.size(); ++i) {
    ASSIGN_OR_RETURN(CpuGemvBenchResult r,
                     RunCpuGemvBenchmark(format, shapes[i].n, shapes[i].k, params.batch, options,
                                         [&ctx] { return ctx.cancelled(); }));
    RETURN_IF_ERROR(CheckStatus(r));
    results.push_back(std::move(r));
    ctx.ReportProgress(static_cast<double>(i + 1) / static_cast<double>(shapes.size()));
  }

  JobOutput out;
  nlohmann::json artifact = {{"device", "cpu"},
                             {"format", CpuGemvFormatName(format)},
                             {"isa", CpuIsaName(options.isa)},
                             {"activations", ActivationModeName(options.activations)},
                             {"threads", results.front().threads},
                             {"blas", BlasDescription()},
                             {"batch", params.batch}};
  const CpuGemvBenchResult& first = results.front();
  if (params.model.empty()) {
    const CpuGemvBenchResult& r = first;
    const double median_se = 1.2533 * r.kernel.stddev_us / std::sqrt(double(r.kernel.samples));
    Add(out, "median_us", r.kernel.median_us, "us", false, median_se);
    Add(out, "p10_us", r.kernel.p10_us, "us", false);
    Add(out, "p90_us", r.kernel.p90_us, "us", false);
    Add(out, "stddev_us", r.kernel.stddev_us, "us", false);
    Add(out, "effective_gbps", r.effective_gbps, "GB/s", true);
    Add(out, "read_bw_gbps", r.read_bw_gbps, "GB/s", true);
    Add(out, "pct_of_read_bw", r.pct_of_read_bw(), "%", true);
    if (r.have_blas) {
      Add(out, "fp32_blas_median_us", r.blas.median_us, "us", false);
      Add(out, "speedup_vs_fp32_blas", r.speedup_vs_blas(), "x", true);
    }
    Add(out, "rows_checked", static_cast<double>(r.rows_checked), "rows", true);
    Add(out, "bytes_moved", static_cast<double>(r.bytes_moved), "bytes", false);
    Add(out, "calls_per_sample", r.kernel.calls_per_sample, "calls", true);
    Add(out, "rotation_copies", r.rotation_copies, "", true);
    artifact["result"] = ResultJson(r);
  } else {
    double decode_us = 0, blas_us = 0, bytes = 0, read_us = 0, max_err = 0;
    int linears = 0;
    nlohmann::json rows = nlohmann::json::array();
    for (size_t i = 0; i < results.size(); ++i) {
      const CpuGemvBenchResult& r = results[i];
      const int count = shapes[i].count;
      decode_us += count * r.kernel.median_us;
      blas_us += count * r.blas.median_us;
      bytes += count * static_cast<double>(r.bytes_moved);
      read_us += count * static_cast<double>(r.bytes_moved) / (r.read_bw_gbps * 1e3);
      max_err = std::max(max_err, r.check.max_rel_err);
      linears += count;
      nlohmann::json row = ResultJson(r);
      row["count"] = count;
      rows.push_back(std::move(row));
    }
    Add(out, "decode_linear_us", decode_us, "us", false);
    Add(out, "effective_gbps", bytes / (decode_us * 1e3), "GB/s", true);
    Add(out, "pct_of_read_bw", 100.0 * read_us / decode_us, "%", true);
    if (first.have_blas) {
      Add(out, "decode_linear_blas_us", blas_us, "us", false);
      Add(out, "speedup_vs_fp32_blas", blas_us / decode_us, "x", true);
    }
    Add(out, "linear_shapes", static_cast<double>(results.size()), "shapes", false);
    Add(out, "linears_per_token", linears, "linears", false);
    artifact["shapes"] = rows;
    artifact["decode_linear_us"] = decode_us;
    out.artifacts.push_back({"kernel_bench_shapes.json", "application/json", rows.dump(1)});
  }
  double max_err = 0;
  for (const CpuGemvBenchResult& r : results) max_err = std::max(max_err, r.check.max_rel_err);
  Add(out, "max_rel_err", max_err, "", false);
  Add(out, "check_ok", 1.0, "", true);
  Add(out, "weight_rel_err", first.weight_rel_err, "", false);
  Add(out, "activation_rel_err", first.activation_rel_err, "", false);
  Add(out, "bits_per_weight", CpuGemvBitsPerWeight(format), "bits", false);
  Add(out, "threads", first.threads, "threads", false);
  out.artifacts.push_back({"kernel_bench.json", "application/json", artifact.dump(1)});
  // Provenance: the portable path standing in for a SIMD one nobody asked to skip is the
  // silent fallback a format comparison must not take for the kernel.
  const bool fallback = params.isa.empty() && options.isa == CpuIsa::kPortable;
  out.context_json = nlohmann::json{
      {"kernel", {{"name", CpuGemvFormatName(format)},
                  {"backend", fallback ? "fallback" : "native"},
                  {"path", CpuIsaName(options.isa)},
                  {"activations", ActivationModeName(options.activations)},
                  {"threads", results.front().threads}}},
      {"runtime", {{"blas", BlasDescription()}}}}.dump();
  return out;
}

}  // namespace qlab::kernels
