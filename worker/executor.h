// JobExecutor: runs one leased job on this worker. One executor per job kind; the worker
// looks executors up by kind and advertises exactly the kinds it has executors for.
#pragma once

#include <map>
#include <memory>
#include <string>

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
};

class JobExecutor {
 public:
  virtual ~JobExecutor() = default;
  // Runs the job to completion or until `context.cancelled()`. An error Status means the job
  // FAILED with that message (not retried); it is not an infrastructure failure.
  virtual StatusOr<JobOutput> Execute(const LeasedJob& job, JobContext& context) = 0;
};

using ExecutorMap = std::map<std::string, std::unique_ptr<JobExecutor>>;

// Executors of the kinds built into this binary (noop, quantize, and the LibTorch/CUDA ones
// when compiled in and usable on this machine's devices). Predictor jobs read their dataset
// from `dataset_source` unless they name a file.
ExecutorMap BuiltInExecutors(bool have_cuda_device, DatasetSource dataset_source = {});

}  // namespace qlab::worker
