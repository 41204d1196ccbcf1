// The built-in executors: thin adapters from a leased job's JSON params to the evaluator
// libraries, which know nothing of gRPC or the worker.
#include <chrono>
#include <cstdlib>
#include <set>
#include <thread>

#include <nlohmann/json.hpp>

#include "evaluators/datatypes/quantize_job.h"
#include "evaluators/kernels/cpu_kernel_bench_job.h"
#include "evaluators/kernels/kernel_bench_job.h"
#include "evaluators/kernels/kernel_bench_params.h"
#include "worker/executor.h"

#ifdef QLAB_HAVE_TORCH
#include "evaluators/accuracy/accuracy_job.h"
#include "evaluators/accuracy/reference_cache.h"
#include "evaluators/latency/latency_job.h"
#include "evaluators/latency/network_builder.h"
#endif
#ifdef QLAB_HAVE_PREDICTOR
#include "evaluators/predictor/predictor_job.h"
#endif

namespace qlab::worker {
namespace {

StatusOr<nlohmann::json> ParseParams(const LeasedJob& job) {
  auto params = nlohmann::json::parse(job.params_json, nullptr, /*allow_exceptions=*/false);
  if (params.is_discarded() || !params.is_object()) {
    return Status::InvalidArgument("params of job " + std::to_string(job.job_id) +
                                   " are not a JSON object");
  }
  return params;
}

// Sleeps for duration_ms (cancellable) and reports a fixed metric: the unit of work of tests
// and of the coordinator throughput benchmark.
class NoopExecutor final : public JobExecutor {
 public:
  StatusOr<JobOutput> Execute(const LeasedJob& job, JobContext& context) override {
    ASSIGN_OR_RETURN(auto params, ParseParams(job));
    const int64_t duration_ms = params.value("duration_ms", int64_t{0});
    auto end = std::chrono::steady_clock::now() + std::chrono::milliseconds(duration_ms);
    while (std::chrono::steady_clock::now() < end) {
      if (context.cancelled()) return Status::Cancelled("cancelled");
      std::this_thread::sleep_for(std::min<std::chrono::steady_clock::duration>(
          end - std::chrono::steady_clock::now(), std::chrono::milliseconds(10)));
    }
    if (params.value("fail", false)) return Status::Internal("noop job asked to fail");
    JobOutput out;
    out.metrics.push_back({"duration_ms", static_cast<double>(duration_ms), "ms"});
    if (params.contains("metrics")) {
      for (const auto& [name, v] : params["metrics"].items()) {
        out.metrics.push_back({name, v.get<double>()});
      }
    }
    return out;
  }
};

class QuantizeExecutor final : public JobExecutor {
 public:
  StatusOr<JobOutput> Execute(const LeasedJob& job, JobContext& context) override {
    ASSIGN_OR_RETURN(auto params, ParseParams(job));
    ASSIGN_OR_RETURN(JobOutput out, datatypes::RunQuantizeJob(params, context));
    // The datatype is simulated: values are quantized and decoded in FP32, no kernel runs.
    out.context_json = R"({"kernel":{"name":"reference_quantizer","backend":"emulated"}})";
    return out;
  }
};

// Times one GEMV kernel (or a model's block linears) on the leased device: the CPU kernels on
// a CPU device, the CUDA kernels on "cuda:<index>".
class KernelBenchExecutor final : public JobExecutor {
 public:
  StatusOr<JobOutput> Execute(const LeasedJob& job, JobContext& context) override {
    ASSIGN_OR_RETURN(auto params, ParseParams(job));
    ASSIGN_OR_RETURN(kernels::KernelBenchParams p, kernels::KernelBenchParamsFromJson(params));
    if (job.device.rfind("cuda:", 0) == 0) {
      if (p.device_kind != "cuda") {
        return Status::InvalidArgument("kernel_bench: params.device is " + p.device_kind +
                                       " but the job was leased on " + job.device);
      }
      p.device = std::stoi(job.device.substr(5));
      return kernels::RunKernelBenchJob(p, context);
    }
    if (p.device_kind != "cpu") {
      return Status::InvalidArgument("kernel_bench: params.device is cuda but the job was leased on " +
                                     job.device);
    }
    return kernels::RunCpuKernelBenchJob(p, context);
  }
};

#ifdef QLAB_HAVE_TORCH
class LatencyExecutor final : public JobExecutor {
 public:
  StatusOr<JobOutput> Execute(const LeasedJob& job, JobContext& context) override {
    ASSIGN_OR_RETURN(auto params, ParseParams(job));
    params["device"] = job.device;  // measure where the scheduler placed it
    ASSIGN_OR_RETURN(JobOutput out, latency::RunLatencyJob(params, context));
    out.context_json = R"({"kernel":{"name":"libtorch_eager","backend":"native"}})";
    return out;
  }
};

class AccuracyExecutor final : public JobExecutor {
 public:
  StatusOr<JobOutput> Execute(const LeasedJob& job, JobContext& context) override {
    ASSIGN_OR_RETURN(auto params, ParseParams(job));
    params["device"] = job.device;  // the leased device, whatever the params say
    return RunAccuracyJob(params, context);
  }
};
#endif

#ifdef QLAB_HAVE_PREDICTOR
// Trains a latency predictor on the dataset named by the job: a file, or the coordinator's
// latency rows (the same ones `qlab dataset export` prints).
class PredictorExecutor final : public JobExecutor {
 public:
  explicit PredictorExecutor(DatasetSource source) : source_(std::move(source)) {}

  StatusOr<JobOutput> Execute(const LeasedJob& job, JobContext& context) override {
    ASSIGN_OR_RETURN(auto params, ParseParams(job));
    ASSIGN_OR_RETURN(predictor::PredictorParams p, predictor::ParsePredictorParams(params));
    std::vector<predictor::LatencyRow> rows;
    if (!p.dataset_file.empty()) {
      ASSIGN_OR_RETURN(rows, predictor::ReadDatasetFile(p.dataset_file));
    } else if (source_) {
      ASSIGN_OR_RETURN(rows, source_(std::string(predictor::SpaceName(p.space)), p.experiments));
    } else {
      return Status::FailedPrecondition("this worker has no coordinator dataset source");
    }
    return predictor::RunPredictorJob(p, rows, context);
  }

 private:
  DatasetSource source_;
};
#endif

}  // namespace

ExecutorMap BuiltInExecutors(bool have_cuda_device, DatasetSource dataset_source) {
  ExecutorMap map;
  map["noop"] = std::make_unique<NoopExecutor>();
  map["quantize"] = std::make_unique<QuantizeExecutor>();
  (void)have_cuda_device;  // kernel_bench runs on CPUs too; CUDA devices exist only with CUDA
  map["kernel_bench"] = std::make_unique<KernelBenchExecutor>();
#ifdef QLAB_HAVE_TORCH
  map["latency"] = std::make_unique<LatencyExecutor>();
  map["accuracy"] = std::make_unique<AccuracyExecutor>();
#endif
#ifdef QLAB_HAVE_PREDICTOR
  map["predictor"] = std::make_unique<PredictorExecutor>(std::move(dataset_source));
#else
  (void)dataset_source;
#endif
  return map;
}

void SetEvaluatorCacheDirectory(const std::string& directory) {
#ifdef QLAB_HAVE_TORCH
  accuracy::ReferenceCache::Global().SetDirectory(directory);
#else
  (void)directory;  // no evaluator here keeps anything between jobs
#endif
}

bool TorchRunsOnCuda(int ordinal) {
#ifdef QLAB_HAVE_TORCH
  const latency::TorchRuntime runtime = latency::GetTorchRuntime();
  return runtime.cuda_available && ordinal >= 0 && ordinal < runtime.cuda_device_count;
#else
  (void)ordinal;
  return false;
#endif
}

void AssignDeviceKinds(const ExecutorMap& executors,
                       const std::function<bool(int)>& torch_runs_on_cuda,
                       std::vector<DeviceInfo>* devices) {
  static const std::set<std::string> kTorchKinds = {"latency", "accuracy", "predictor"};
  for (DeviceInfo& d : *devices) {
    const bool cuda = d.device_class == 2;
    const bool torch_here = !cuda || (d.name.rfind("cuda:", 0) == 0 &&
                                      torch_runs_on_cuda(std::atoi(d.name.c_str() + 5)));
    d.kinds.clear();
    for (const auto& [kind, executor] : executors) {
      if (kTorchKinds.count(kind) && !torch_here) continue;
      d.kinds.push_back(kind);
    }
  }
}

}  // namespace qlab::worker
