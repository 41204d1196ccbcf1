// The coordinator's Prometheus metrics (names prefixed qlab_, units in the names, counters end
// in _total), collected with prometheus-cpp and served by our own HTTP server at /metrics.
//
// Gauges that describe the database (jobs by state and kind, live workers) are refreshed when
// scraped; counters and histograms are updated as things happen. Thread-safe.
#pragma once

#include <grpcpp/support/server_interceptor.h>
#include <prometheus/counter.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>

#include <memory>
#include <mutex>
#include <string>

#include "server/scheduler.h"
#include "storage/job_store.h"

namespace qlab::server {

class ServerMetrics {
 public:
  ServerMetrics();

  void ObserveRpc(const std::string& method, const std::string& code, double seconds);
  void ObserveWriteBatch(int closures, double seconds);
  void ObserveJob(const Scheduler::JobEnd& end);
  // A drift canary's verdict ("baseline", "ok", "drift") and the results a drift flagged.
  void ObserveCanary(const std::string& verdict, int64_t flagged_results);

  // Refreshes the scrape-time gauges from `scheduler` and `store`, then renders the text format.
  std::string Render(Scheduler& scheduler, storage::JobStore& store);

  // A gRPC interceptor factory that times every RPC into qlab_rpc_*; owned by the ServerBuilder.
  std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface> MakeRpcInterceptorFactory();

 private:
  std::shared_ptr<prometheus::Registry> registry_;
  prometheus::Family<prometheus::Gauge>& jobs_;
  prometheus::Family<prometheus::Gauge>& workers_live_;
  prometheus::Gauge& queue_depth_;
  prometheus::Gauge& leased_jobs_;
  prometheus::Counter& lease_expiries_;
  prometheus::Counter& retries_;
  prometheus::Family<prometheus::Counter>& completions_;
  prometheus::Family<prometheus::Histogram>& job_duration_;
  prometheus::Family<prometheus::Counter>& failures_;
  prometheus::Family<prometheus::Counter>& canaries_;
  prometheus::Counter& flagged_results_;
  prometheus::Gauge& quarantined_devices_;
  prometheus::Histogram& write_seconds_;
  prometheus::Counter& write_batches_;
  prometheus::Counter& write_closures_;
  prometheus::Family<prometheus::Counter>& rpcs_;
  prometheus::Family<prometheus::Histogram>& rpc_seconds_;

  std::mutex mu_;
  Scheduler::Counters last_counters_;  // guarded by mu_: what was already added to the counters
};

}  // namespace qlab::server
