// JobExecutor: runs one leased job on this worker. One executor per job kind; the worker
// looks executors up by kind and advertises exactly the kinds it has executors for.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "common/device.h"
#include "common/job_output.h"
#include "common/status.h"
#include "worker/dataset_source.h"

namespace qlab::worker {

struct LeasedJob {
  int64_t job_id = 0;
  int64_t token = 0;
  std::string kind;
  std::string params_json;
  std::string device;  // the device the scheduler matched, e.g. "cpu", "cuda:0"
  std::string experiment;
  int timeout_s = 0;   // kill the attempt after this many seconds; 0 = no limit
};

// How a failed attempt is classified for the coordinator (storage/records.h): ABORTED is an
// evaluator crash (retried, poison after max_attempts), UNAVAILABLE is the infrastructure's
// failure (retried without spending an attempt), anything else is the job's own error.
inline const char* FailureClassOf(const Status& status) {
  switch (status.code()) {
    case StatusCode::kAborted: return "crash";
    case StatusCode::kUnavailable: return "infrastructure";
    default: return "job_error";
  }
}

class JobExecutor {
 public:
  virtual ~JobExecutor() = default;
  // Runs the job to completion or until `context.cancelled()`. An error Status means the
  // attempt failed with that message, classified by FailureClassOf.
  virtual StatusOr<JobOutput> Execute(const LeasedJob& job, JobContext& context) = 0;
};

using ExecutorMap = std::map<std::string, std::unique_ptr<JobExecutor>>;

// Executors of the kinds built into this binary (noop, quantize, and the LibTorch/CUDA ones
// when compiled in and usable on this machine's devices). Predictor jobs read their dataset
// from `dataset_source` unless they name a file.
ExecutorMap BuiltInExecutors(bool have_cuda_device, DatasetSource dataset_source = {});

// Where evaluators keep what outlives a job (the accuracy job's reference passes); "" = memory
// only. Created when missing. Call before running jobs.
void SetEvaluatorCacheDirectory(const std::string& directory);

// Whether this binary's LibTorch can run on CUDA device `ordinal` (built with CUDA, and the
// device visible to it). False without LibTorch.
bool TorchRunsOnCuda(int ordinal);

// Fills each device's `kinds` from the executors: kernel_bench everywhere (CPU kernels); the
// LibTorch kinds (latency, accuracy, predictor) on the CPU, and on a CUDA device only when
// `torch_runs_on_cuda(ordinal)`; every other kind everywhere. So a job for cuda:0 that this
// worker's LibTorch cannot run waits for one that can, with the reason, instead of running
// on the CPU under a CUDA label.
void AssignDeviceKinds(const ExecutorMap& executors,
                       const std::function<bool(int)>& torch_runs_on_cuda,
                       std::vector<DeviceInfo>* devices);

}  // namespace qlab::worker
