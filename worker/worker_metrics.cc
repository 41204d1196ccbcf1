#include "worker/worker_metrics.h"

#include <httplib.h>
#include <prometheus/text_serializer.h>

#include <chrono>

namespace qlab::worker {

namespace {
const prometheus::Histogram::BucketBoundaries kJobBuckets = {
    0.001, 0.01, 0.1, 0.5, 1, 2, 5, 10, 30, 60, 120, 300, 600, 1200};
}  // namespace

class MeteredExecutor final : public JobExecutor {
 public:
  MeteredExecutor(WorkerMetrics* metrics, std::string kind, std::unique_ptr<JobExecutor> inner)
      : metrics_(metrics), kind_(std::move(kind)), inner_(std::move(inner)) {}

  StatusOr<JobOutput> Execute(const LeasedJob& job, JobContext& context) override {
    metrics_->running_.Increment();
    auto start = std::chrono::steady_clock::now();
    StatusOr<JobOutput> out = inner_->Execute(job, context);
    double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    metrics_->running_.Decrement();
    std::string outcome = out.ok() ? "succeeded" : context.cancelled() ? "cancelled" : "failed";
    metrics_->jobs_.Add({{"kind", kind_}, {"outcome", outcome}}).Increment();
    metrics_->job_seconds_.Add({{"kind", kind_}}, kJobBuckets).Observe(seconds);
    return out;
  }

 private:
  WorkerMetrics* metrics_;
  std::string kind_;
  std::unique_ptr<JobExecutor> inner_;
};

WorkerMetrics::WorkerMetrics()
    : registry_(std::make_shared<prometheus::Registry>()),
      jobs_(prometheus::BuildCounter().Name("qlab_worker_jobs_total")
                .Help("Jobs this worker ran, by kind and outcome.").Register(*registry_)),
      job_seconds_(prometheus::BuildHistogram().Name("qlab_worker_job_duration_seconds")
                       .Help("Run time of jobs on this worker, by kind.").Register(*registry_)),
      running_(prometheus::BuildGauge().Name("qlab_worker_running_jobs")
                   .Help("Jobs running on this worker now.").Register(*registry_).Add({})) {}

WorkerMetrics::~WorkerMetrics() {
  if (http_) http_->stop();
  if (thread_.joinable()) thread_.join();
}

ExecutorMap WorkerMetrics::Decorate(ExecutorMap executors) {
  ExecutorMap out;
  for (auto& [kind, executor] : executors) {
    out[kind] = std::make_unique<MeteredExecutor>(this, kind, std::move(executor));
  }
  return out;
}

std::string WorkerMetrics::Render() {
  return prometheus::TextSerializer().Serialize(registry_->Collect());
}

Status WorkerMetrics::Serve(const std::string& address) {
  auto colon = address.rfind(':');
  if (colon == std::string::npos) {
    return Status::InvalidArgument("--metrics-listen must be HOST:PORT, got '" + address + "'");
  }
  std::string host = address.substr(0, colon);
  int port = 0;
  try {
    port = std::stoi(address.substr(colon + 1));
  } catch (...) {
    return Status::InvalidArgument("--metrics-listen has a bad port in '" + address + "'");
  }
  http_ = std::make_unique<httplib::Server>();
  http_->Get("/metrics", [this](const httplib::Request&, httplib::Response& res) {
    res.set_content(Render(), "text/plain; version=0.0.4; charset=utf-8");
  });
  http_->Get("/healthz", [](const httplib::Request&, httplib::Response& res) {
    res.set_content("ok\n", "text/plain");
  });
  int bound = port == 0 ? http_->bind_to_any_port(host) : (http_->bind_to_port(host, port) ? port : -1);
  if (bound <= 0) return Status::Unavailable("cannot listen for metrics on " + address);
  address_ = host + ":" + std::to_string(bound);
  thread_ = std::thread([this] { http_->listen_after_bind(); });
  return Status::Ok();
}

}  // namespace qlab::worker
