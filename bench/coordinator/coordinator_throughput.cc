// Measures how many no-op jobs per second flow through a real qlab-server process:
// one SubmitExperiment of N jobs, then 4 worker clients (each its own channel) that
// AcquireLease up to B jobs and Complete them in one call, until every job SUCCEEDED.
// Side by side, in the same run: a bare gRPC unary echo, with one call in flight and with one
// call in flight on each of 4 channels — the ceiling a one-RPC-per-job protocol could reach.
//
// Usage: coordinator_throughput [jobs=20000] [batch=64] [seconds_per_echo=3]
#include <chrono>
#include <cstdio>
#include <thread>
#include <vector>

#include <grpcpp/grpcpp.h>

#include <nlohmann/json.hpp>

#include "echo.grpc.pb.h"
#include "tests/support/cluster.h"
#include "tests/support/fake_workers.h"

namespace {

using Clock = std::chrono::steady_clock;

class EchoImpl final : public qlab::bench::Echo::Service {
  grpc::Status Echo(grpc::ServerContext*, const qlab::bench::EchoMessage* in,
                    qlab::bench::EchoMessage* out) override {
    *out = *in;
    return grpc::Status::OK;
  }
};

double EchoRate(const std::string& address, int channels, double seconds) {
  std::vector<std::thread> threads;
  std::vector<long> counts(channels, 0);
  auto end = Clock::now() + std::chrono::duration<double>(seconds);
  for (int c = 0; c < channels; ++c) {
    threads.emplace_back([&, c] {
      grpc::ChannelArguments args;
      args.SetInt("qlab.bench.channel", c);  // distinct args: a distinct connection per thread
      auto channel = grpc::CreateCustomChannel(address, grpc::InsecureChannelCredentials(), args);
      auto stub = qlab::bench::Echo::NewStub(channel);
      qlab::bench::EchoMessage req, resp;
      req.set_payload(std::string(64, 'x'));
      while (Clock::now() < end) {
        grpc::ClientContext ctx;
        if (stub->Echo(&ctx, req, &resp).ok()) counts[c]++;
      }
    });
  }
  for (auto& t : threads) t.join();
  long total = 0;
  for (long n : counts) total += n;
  return total / seconds;
}

struct JobRun {
  double jobs_per_s = 0;
  double seconds = 0;
};

JobRun RunJobs(qlab::testing::Cluster& cluster, const std::string& name, int jobs, int batch,
               int workers) {
  nlohmann::json seq = nlohmann::json::array();
  for (int i = 0; i < jobs; ++i) seq.push_back(i);
  qlab::v1::SubmitExperimentRequest submit;
  submit.set_sweep_json(nlohmann::json({{"name", name}, {"kind", "noop"},
                                        {"axes", {{"seq", seq}}}}).dump());
  auto start = Clock::now();
  qlab::v1::SubmitExperimentResponse submitted;
  grpc::Status st = cluster.jobs().SubmitExperiment(qlab::testing::Deadline(std::chrono::minutes(5)).get(),
                                                    submit, &submitted);
  if (!st.ok()) {
    std::fprintf(stderr, "submit failed: %s\n", st.error_message().c_str());
    std::exit(1);
  }
  qlab::testing::FakeWorkerOptions options;
  options.address = cluster.grpc_address();
  options.id_prefix = name;
  options.workers = workers;
  options.batch = batch;
  options.fill = [](const qlab::v1::Lease&, qlab::v1::Completion* c) {
    auto* m = c->add_metrics();
    m->set_name("duration_ms");
    m->set_value(0);
  };
  qlab::testing::CompleteJobsWithFakeWorkers(options, jobs);
  JobRun r;
  r.seconds = std::chrono::duration<double>(Clock::now() - start).count();
  r.jobs_per_s = jobs / r.seconds;
  return r;
}

}  // namespace

int main(int argc, char** argv) {
  const int jobs = argc > 1 ? std::atoi(argv[1]) : 20000;
  const int batch = argc > 2 ? std::atoi(argv[2]) : 64;
  const double echo_seconds = argc > 3 ? std::atof(argv[3]) : 3.0;

  EchoImpl echo;
  grpc::ServerBuilder builder;
  int echo_port = 0;
  builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &echo_port);
  builder.RegisterService(&echo);
  auto echo_server = builder.BuildAndStart();
  const std::string echo_address = "127.0.0.1:" + std::to_string(echo_port);

  qlab::testing::Cluster cluster;
  cluster.StartServer();

  // Interleaved: echo, jobs, echo again, so drift hits both sides.
  double echo1_a = EchoRate(echo_address, 1, echo_seconds);
  double echo4_a = EchoRate(echo_address, 4, echo_seconds);
  JobRun batched = RunJobs(cluster, "bench-batched", jobs, batch, 4);
  JobRun single = RunJobs(cluster, "bench-single", std::max(1, jobs / 10), 1, 4);
  double echo1_b = EchoRate(echo_address, 1, echo_seconds);
  double echo4_b = EchoRate(echo_address, 4, echo_seconds);
  double echo1 = (echo1_a + echo1_b) / 2, echo4 = (echo4_a + echo4_b) / 2;

  std::printf("| measurement | rate (/s) | ratio to echo, 4 channels |\n|---|---|---|\n");
  std::printf("| gRPC unary echo, 1 call in flight | %.0f (runs: %.0f, %.0f) | %.2f |\n", echo1,
              echo1_a, echo1_b, echo1 / echo4);
  std::printf("| gRPC unary echo, 4 channels x 1 in flight | %.0f (runs: %.0f, %.0f) | 1.00 |\n",
              echo4, echo4_a, echo4_b);
  std::printf("| no-op jobs, 4 workers, lease/complete batches of %d (%d jobs, %.2f s) | %.0f | %.2f |\n",
              batch, jobs, batched.seconds, batched.jobs_per_s, batched.jobs_per_s / echo4);
  std::printf("| no-op jobs, 4 workers, one job per lease and per completion (%d jobs, %.2f s) | %.0f | %.2f |\n",
              std::max(1, jobs / 10), single.seconds, single.jobs_per_s, single.jobs_per_s / echo4);
  echo_server->Shutdown();
  return 0;
}
