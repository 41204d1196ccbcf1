// Workers that speak WorkerService from threads of this process and run nothing: they lease
// jobs in batches and complete them at once with metrics the caller supplies. Benchmarks use
// them to load or fill the coordinator without evaluators in the way.
#pragma once

#include <functional>
#include <string>

#include "qlab/v1/worker_service.grpc.pb.h"

namespace qlab::testing {

struct FakeWorkerOptions {
  std::string address;    // the coordinator's gRPC address
  std::string id_prefix;  // worker i registers as "<id_prefix>-w<i>" on host "bench-host-<i>"
  int workers = 1;        // each on its own channel (its own connection)
  int batch = 64;         // slots, and jobs leased and completed per call
  // Adds the metrics (and times) of one completion; job id, token and outcome are already set.
  std::function<void(const v1::Lease&, v1::Completion*)> fill;
  // Called by worker 0 after each of its Complete calls with the total accepted so far.
  std::function<void(int done)> on_progress;
};

// Returns when `jobs` completions have been accepted. Exits the process when a worker cannot
// register (a benchmark has nothing to measure then).
void CompleteJobsWithFakeWorkers(const FakeWorkerOptions& options, int jobs);

}  // namespace qlab::testing
