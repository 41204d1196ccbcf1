#include "server/server_metrics.h"

#include <prometheus/text_serializer.h>

#include <chrono>
#include <map>
#include <set>

#include "common/device.h"
#include "server/job_kinds.h"

namespace qlab::server {
namespace {

using prometheus::BuildCounter;
using prometheus::BuildGauge;
using prometheus::BuildHistogram;

// Seconds, from 1 ms to ~17 min: jobs range from no-op to long latency sweeps.
const prometheus::Histogram::BucketBoundaries kJobBuckets = {
    0.001, 0.01, 0.1, 0.5, 1, 2, 5, 10, 30, 60, 120, 300, 600, 1200};
// Seconds, from 50 us to 1 s: RPCs and SQLite commits.
const prometheus::Histogram::BucketBoundaries kFastBuckets = {
    0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1};

const char* GrpcCodeName(grpc::StatusCode code) {
  switch (code) {
    case grpc::OK: return "OK";
    case grpc::CANCELLED: return "CANCELLED";
    case grpc::INVALID_ARGUMENT: return "INVALID_ARGUMENT";
    case grpc::DEADLINE_EXCEEDED: return "DEADLINE_EXCEEDED";
    case grpc::NOT_FOUND: return "NOT_FOUND";
    case grpc::ALREADY_EXISTS: return "ALREADY_EXISTS";
    case grpc::PERMISSION_DENIED: return "PERMISSION_DENIED";
    case grpc::RESOURCE_EXHAUSTED: return "RESOURCE_EXHAUSTED";
    case grpc::FAILED_PRECONDITION: return "FAILED_PRECONDITION";
    case grpc::UNAVAILABLE: return "UNAVAILABLE";
    case grpc::UNAUTHENTICATED: return "UNAUTHENTICATED";
    case grpc::INTERNAL: return "INTERNAL";
    default: return "OTHER";
  }
}

class RpcInterceptor final : public grpc::experimental::Interceptor {
 public:
  RpcInterceptor(ServerMetrics* metrics, std::string method)
      : metrics_(metrics), method_(std::move(method)), start_(std::chrono::steady_clock::now()) {}

  void Intercept(grpc::experimental::InterceptorBatchMethods* methods) override {
    using grpc::experimental::InterceptionHookPoints;
    if (methods->QueryInterceptionHookPoint(InterceptionHookPoints::PRE_SEND_STATUS)) {
      code_ = GrpcCodeName(methods->GetSendStatus().error_code());
    }
    if (methods->QueryInterceptionHookPoint(InterceptionHookPoints::POST_RECV_CLOSE)) {
      double seconds =
          std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
      metrics_->ObserveRpc(method_, code_, seconds);
    }
    methods->Proceed();
  }

 private:
  ServerMetrics* metrics_;
  std::string method_;
  std::string code_ = "CANCELLED";
  std::chrono::steady_clock::time_point start_;
};

class RpcInterceptorFactory final : public grpc::experimental::ServerInterceptorFactoryInterface {
 public:
  explicit RpcInterceptorFactory(ServerMetrics* metrics) : metrics_(metrics) {}
  grpc::experimental::Interceptor* CreateServerInterceptor(
      grpc::experimental::ServerRpcInfo* info) override {
    std::string method = info->method();
    // Only our own services: health checks and reflection stay out of the RPC series.
    if (method.rfind("/qlab.", 0) != 0) return nullptr;
    return new RpcInterceptor(metrics_, method.substr(method.find('/', 1) + 1));
  }

 private:
  ServerMetrics* metrics_;
};

}  // namespace

ServerMetrics::ServerMetrics()
    : registry_(std::make_shared<prometheus::Registry>()),
      jobs_(BuildGauge().Name("qlab_jobs").Help("Jobs in the database by state and kind.")
                .Register(*registry_)),
      workers_live_(BuildGauge().Name("qlab_workers_live")
                        .Help("Live workers by the device classes they offer.").Register(*registry_)),
      queue_depth_(BuildGauge().Name("qlab_queue_depth").Help("Jobs waiting for a worker.")
                       .Register(*registry_).Add({})),
      leased_jobs_(BuildGauge().Name("qlab_leased_jobs").Help("Jobs leased to workers now.")
                       .Register(*registry_).Add({})),
      lease_expiries_(BuildCounter().Name("qlab_lease_expiries_total")
                          .Help("Leases that expired without being heartbeaten.")
                          .Register(*registry_).Add({})),
      retries_(BuildCounter().Name("qlab_job_retries_total")
                   .Help("Jobs returned to the queue after an expired lease.")
                   .Register(*registry_).Add({})),
      completions_(BuildCounter().Name("qlab_completions_total")
                       .Help("Completions reported by workers, by whether they were accepted.")
                       .Register(*registry_)),
      job_duration_(BuildHistogram().Name("qlab_job_duration_seconds")
                        .Help("Run time of finished jobs as reported by workers, by kind.")
                        .Register(*registry_)),
      failures_(BuildCounter().Name("qlab_job_failures_total")
                    .Help("Failed attempts by kind and class (job_error, crash, poison, "
                          "infrastructure) and whether the job was retried or ended FAILED.")
                    .Register(*registry_)),
      canaries_(BuildCounter().Name("qlab_canaries_total")
                    .Help("Drift canaries reported by workers, by verdict (baseline, ok, drift).")
                    .Register(*registry_)),
      flagged_results_(BuildCounter().Name("qlab_flagged_results_total")
                           .Help("Timing results flagged because their device's drift canary "
                                 "failed after they were measured.")
                           .Register(*registry_).Add({})),
      quarantined_devices_(BuildGauge().Name("qlab_devices_quarantined")
                               .Help("Devices closed to timing jobs by a failed drift canary.")
                               .Register(*registry_).Add({})),
      write_seconds_(BuildHistogram().Name("qlab_sqlite_write_seconds")
                         .Help("Time of one batched SQLite write transaction.")
                         .Register(*registry_).Add({}, kFastBuckets)),
      write_batches_(BuildCounter().Name("qlab_sqlite_write_transactions_total")
                         .Help("Batched SQLite write transactions committed.")
                         .Register(*registry_).Add({})),
      write_closures_(BuildCounter().Name("qlab_sqlite_writes_total")
                          .Help("Writes folded into SQLite transactions.")
                          .Register(*registry_).Add({})),
      rpcs_(BuildCounter().Name("qlab_rpc_requests_total")
                .Help("gRPC requests handled, by method and status code.").Register(*registry_)),
      rpc_seconds_(BuildHistogram().Name("qlab_rpc_duration_seconds")
                       .Help("gRPC request handling time by method (long polls included).")
                       .Register(*registry_)) {}

void ServerMetrics::ObserveRpc(const std::string& method, const std::string& code, double seconds) {
  rpcs_.Add({{"method", method}, {"code", code}}).Increment();
  rpc_seconds_.Add({{"method", method}}, kFastBuckets).Observe(seconds);
}

void ServerMetrics::ObserveCanary(const std::string& verdict, int64_t flagged_results) {
  canaries_.Add({{"verdict", verdict}}).Increment();
  flagged_results_.Increment(static_cast<double>(flagged_results));
}

void ServerMetrics::ObserveWriteBatch(int closures, double seconds) {
  write_seconds_.Observe(seconds);
  write_batches_.Increment();
  write_closures_.Increment(closures);
}

void ServerMetrics::ObserveJob(const Scheduler::JobEnd& end) {
  if (!end.failure_class.empty()) {
    failures_.Add({{"kind", end.kind}, {"class", end.failure_class},
                   {"result", end.retried ? "retried" : "failed"}})
        .Increment();
  }
  if (end.retried) return;
  job_duration_.Add({{"kind", end.kind},
                     {"outcome", end.failure_class.empty() ? "succeeded" : "failed"}},
                    kJobBuckets)
      .Observe(end.seconds);
}

std::string ServerMetrics::Render(Scheduler& scheduler, storage::JobStore& store) {
  {
    std::lock_guard lock(mu_);
    auto counts = store.CountByStateAndKind();
    if (counts.ok()) {
      // Every state of every known kind is exported, zeros included, so that rates and alert
      // rules work without absent().
      std::map<std::pair<std::string, std::string>, int64_t> values;
      for (const auto& kind : JobKindNames()) {
        for (int state = 1; state <= 6; ++state) {
          values[{storage::JobStateName(static_cast<storage::JobState>(state)), kind}] = 0;
        }
      }
      for (const auto& [key, n] : *counts) values[{storage::JobStateName(key.first), key.second}] = n;
      for (const auto& [key, n] : values) {
        jobs_.Add({{"state", key.first}, {"kind", key.second}}).Set(static_cast<double>(n));
      }
    }
    auto [pending, leased] = scheduler.QueueSizes();
    queue_depth_.Set(static_cast<double>(pending));
    leased_jobs_.Set(static_cast<double>(leased));
    std::map<std::string, int> live;
    for (const char* cls : {"cpu", "cuda", "npu"}) live[cls] = 0;
    const auto workers = scheduler.Workers();
    for (const auto& w : workers) {
      if (!w.live) continue;
      std::set<std::string> classes;
      for (const auto& d : DevicesFromJson(w.record.devices_json)) {
        classes.insert(DeviceClassName(d.device_class));
      }
      for (const auto& c : classes) live[c]++;
    }
    for (const auto& [cls, n] : live) workers_live_.Add({{"device_class", cls}}).Set(n);
    size_t quarantined = 0;
    for (const auto& w : workers) quarantined += w.quarantined.size();
    quarantined_devices_.Set(static_cast<double>(quarantined));
    Scheduler::Counters c = scheduler.counters();
    lease_expiries_.Increment(static_cast<double>(c.lease_expiries - last_counters_.lease_expiries));
    retries_.Increment(static_cast<double>(c.requeues - last_counters_.requeues));
    completions_.Add({{"accepted", "true"}})
        .Increment(static_cast<double>(c.completions_accepted - last_counters_.completions_accepted));
    completions_.Add({{"accepted", "false"}})
        .Increment(static_cast<double>(c.completions_rejected - last_counters_.completions_rejected));
    last_counters_ = c;
  }
  return prometheus::TextSerializer().Serialize(registry_->Collect());
}

std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface>
ServerMetrics::MakeRpcInterceptorFactory() {
  return std::make_unique<RpcInterceptorFactory>(this);
}

}  // namespace qlab::server
