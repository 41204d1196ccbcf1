// Runs jobs in `qlab-evaluate` child processes (DESIGN.md §2): the worker daemon links gRPC but
// not LibTorch, and whatever an evaluator does — segfault, abort, exhaust memory, hang — ends
// that child, never the daemon.
//
// Protocol with the child (worker/evaluate_main.cc):
//   argv     qlab-evaluate --request FILE --output FILE --parent-pid PID [--cache-dir DIR]
//                          [--memory-limit-bytes N]     (it dies with PID)
//   request  {"job_id", "kind", "params_json", "device", "experiment"}
//   stdout   lines "progress <fraction>"
//   stderr   the attempt's log (kept, last 1 MiB, and streamed with heartbeats)
//   exit 0   FILE holds JobOutputToJson (common/job_output_json.h)
//   exit 3   FILE holds {"error": StatusToJson}: the job's own error
//   exit 4   out of memory inside the evaluator (std::bad_alloc)
//   exit 5   the evaluator threw an exception it did not handle
//   exit 6   the output could not be written (infrastructure: a full disk)
//   other    a crash (signal or unexpected exit code)
//
// How an attempt ends, as the executor's Status (FailureClassOf in executor.h):
//   the child's own error            that Status (job_error; UNAVAILABLE is infrastructure)
//   signal, exit 4/5/other, memory   ABORTED naming the signal or code and the peak memory (crash)
//   ran past the job's timeout_s     DEADLINE_EXCEEDED (job_error)
//   cancelled by the coordinator     CANCELLED (the result is dropped)
//   the child cannot be started      UNAVAILABLE (infrastructure)
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/status.h"
#include "worker/dataset_source.h"
#include "worker/executor.h"

namespace qlab::worker {

struct ChildEvaluatorOptions {
  std::string evaluator_path;       // the qlab-evaluate executable
  std::string work_dir;             // request, output and dataset files; must exist
  std::string cache_dir;            // --cache-dir for the children; "" = none
  uint64_t memory_limit_bytes = 0;  // a child's resident memory is kept below this; 0 = none
};

// What a qlab-evaluate build can run (`qlab-evaluate --describe`).
struct EvaluatorDescription {
  std::vector<std::string> kinds;
  int torch_cuda_devices = 0;       // CUDA devices its LibTorch sees (0 for a CPU LibTorch)
  nlohmann::json runtime = nlohmann::json::object();  // its LibTorch and BLAS (run_context.h)
};

// Runs `path --describe`. UNAVAILABLE when it cannot be run or answers nonsense.
StatusOr<EvaluatorDescription> DescribeEvaluator(const std::string& path);

// The qlab-evaluate beside the running executable; "" when there is none.
std::string DefaultEvaluatorPath();

// One executor per kind that runs each job in a child. Predictor jobs that read the
// coordinator's dataset get it from `dataset_source` in the daemon, handed over as a file.
ExecutorMap ChildExecutors(const ChildEvaluatorOptions& options,
                           const std::vector<std::string>& kinds, DatasetSource dataset_source);

// `in_process` for every kind it has, except that a noop job with a `fault` param (the tests'
// crashing, hanging and memory-hungry jobs) runs in `child_noop`.
std::unique_ptr<JobExecutor> NoopWithFaultsInChild(std::unique_ptr<JobExecutor> in_process,
                                                   std::unique_ptr<JobExecutor> child_noop);

// "8G", "512M", "1048576", "0" (no limit) or "40%" of this machine's memory, in bytes.
// INVALID_ARGUMENT otherwise.
StatusOr<uint64_t> ParseMemorySize(const std::string& text);
// The default per-job limit: 80% of this machine's memory shared by `slots` jobs.
uint64_t DefaultJobMemoryLimit(int slots);

}  // namespace qlab::worker
