// Worker: registers with the coordinator, long-polls for leases, runs each leased job on its
// executor, heartbeats every live lease from its own thread, and reports outcomes.
//
// Failure handling: every RPC is retried with backoff while the coordinator is unreachable
// (a coordinator restart loses nothing: leases survive it and are completed afterwards). A
// NOT_FOUND answer makes the worker register again. A job the coordinator no longer considers
// ours (cancelled, expired) is stopped and its result dropped. Stop() lets running jobs finish
// for `grace_ms`, then gives back the leases of those still running.
#pragma once

#include <atomic>
#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <grpcpp/grpcpp.h>
#include <nlohmann/json.hpp>

#include "qlab/v1/worker_service.grpc.pb.h"
#include "worker/devices.h"
#include "worker/coordinator_channel.h"
#include "worker/executor.h"

namespace qlab::worker {

struct WorkerOptions {
  std::string coordinator = "127.0.0.1:7070";
  std::string token;            // bearer token for every call; "" = none
  std::string tls_ca_pem;       // CA of the coordinator's certificate; "" = plaintext
  std::string worker_id;        // "" = assigned by the coordinator
  std::vector<DeviceInfo> devices;
  int slots = 1;                // jobs run at once
  int64_t grace_ms = 30'000;    // on Stop(), how long running jobs may finish
  std::map<std::string, std::string> labels;
  // What each kind's evaluator process reports about its runtime (LibTorch, BLAS), for the
  // context of every success (worker/run_context.h). Kinds not listed report {}.
  std::map<std::string, nlohmann::json> runtime_of_kind;
  // Drift canaries: one per device at start (three, to seed the baseline), then one every
  // this many ms while the worker is idle; 0 = none.
  int64_t canary_interval_ms = 0;
};

class Worker {
 public:
  Worker(WorkerOptions options, ExecutorMap executors);
  ~Worker();

  // Runs until Stop(); returns after the leases are completed or given back.
  void Run();
  // Thread-safe; may be called from a signal-handling thread.
  void Stop();

  std::string worker_id() const;

 private:
  CoordinatorEndpoint Endpoint() const;
  struct Running {
    LeasedJob job;
    std::shared_ptr<JobContext> context;
    std::thread thread;
    bool finished = false;
    bool dropped = false;       // the coordinator told us to stop it
  };

  bool RegisterWithRetry();
  void LeaseLoop();
  void HeartbeatLoop();
  void SenderLoop();
  void CanaryLoop();
  // Measures every device's canary and reports it; returns the soonest next time the
  // coordinator asked for (0 = none).
  int64_t MeasureCanaries();
  void RunJob(int64_t token);
  void Enqueue(v1::Completion completion);
  void Backoff(int* attempt);
  void ReapFinishedLocked();

  const WorkerOptions options_;
  ExecutorMap executors_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<v1::WorkerService::Stub> stub_;

  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::string worker_id_;                         // guarded by mu_
  int64_t heartbeat_interval_ms_ = 1000;          // guarded by mu_
  std::map<int64_t, Running> running_;            // guarded by mu_: executing jobs by token
  std::map<int64_t, int64_t> unacked_;            // guarded by mu_: job -> token awaiting ack
  std::vector<v1::Completion> outbox_;            // guarded by mu_
  std::vector<std::thread> done_threads_;         // guarded by mu_: finished, to be joined
  bool heartbeat_now_ = false;                    // guarded by mu_: a job started
  bool draining_ = false;                         // guarded by mu_: the coordinator drains us
  bool canary_running_ = false;                   // guarded by mu_: no lease is asked for
  std::atomic<bool> stopping_{false};
  std::atomic<bool> sender_done_{false};
};

}  // namespace qlab::worker
