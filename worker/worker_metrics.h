// The worker's Prometheus metrics, served on its own port (--metrics-listen), and the
// executor decorator that feeds them: every job is counted and timed by kind and outcome
// without the executors knowing.
#pragma once

#include <prometheus/counter.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>

#include <memory>
#include <string>
#include <thread>

#include "common/status.h"
#include "worker/executor.h"

namespace httplib {
class Server;
}

namespace qlab::worker {

class WorkerMetrics {
 public:
  WorkerMetrics();
  ~WorkerMetrics();

  // Serves /metrics on `address` (HOST:PORT, port 0 = any) from a background thread.
  // UNAVAILABLE when the port cannot be bound; INVALID_ARGUMENT for a malformed address.
  Status Serve(const std::string& address);
  const std::string& address() const { return address_; }

  // Wraps every executor of `executors` so that its jobs are counted and timed.
  ExecutorMap Decorate(ExecutorMap executors);

  std::string Render();

 private:
  friend class MeteredExecutor;
  std::shared_ptr<prometheus::Registry> registry_;
  prometheus::Family<prometheus::Counter>& jobs_;
  prometheus::Family<prometheus::Histogram>& job_seconds_;
  prometheus::Gauge& running_;
  std::unique_ptr<httplib::Server> http_;
  std::thread thread_;
  std::string address_;
};

}  // namespace qlab::worker
