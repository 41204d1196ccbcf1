// Fills a qlab database for the dashboard benchmark, through a real qlab-server process:
//   - "bench-main": one SubmitExperiment of N noop jobs (axes label x seq, label dt0..dt9),
//     completed by fake workers over gRPC in batches, each job with 10 metrics, so the file
//     holds N jobs and 10 N result rows;
//   - "bench-small": 200 jobs with the same metrics (the other side of the compare page);
//   - "bench-pending": 1,000 jobs that need a CUDA device no worker has: they stay PENDING,
//     each with its reason.
// The server is stopped with SIGTERM at the end, so the file is complete and checkpointed.
//
// Usage: dashboard_seed DB_FILE [jobs=100000] [batch=500] [workers=2]
#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <vector>

#include <grpcpp/grpcpp.h>

#include <nlohmann/json.hpp>

#include "tests/support/cluster.h"
#include "tests/support/fake_workers.h"

namespace {

using Clock = std::chrono::steady_clock;
using qlab::testing::Deadline;

// Ten metrics of a job, a smooth function of its label (datatype-like) and sequence number, so
// the Pareto page has a frontier and the filters match a known share of jobs.
void AddMetrics(qlab::v1::Completion* c, int label, int seq) {
  const double bits = 2.0 + 0.65 * label + 0.0001 * (seq % 97);
  const double noise = 1.0 + 0.5 * std::sin(seq * 12.9898 + label * 78.233);
  const double mse = std::pow(4.0, -bits) * noise;
  const double median_us = 50.0 + 10.0 * label + (seq % 1000) * 0.9;
  const struct {
    const char* name;
    double value;
    const char* unit;
    bool higher;
  } metrics[] = {
      {"bits_per_weight", bits, "bit", false},
      {"mse", mse, "", false},
      {"sqnr_db", -10.0 * std::log10(mse), "dB", true},
      {"max_abs_err", std::sqrt(mse) * 4.0, "", false},
      {"kl", mse * 0.3, "", false},
      {"median_us", median_us, "us", false},
      {"p90_us", median_us * 1.08, "us", false},
      {"predicted_us", median_us * (0.9 + 0.2 * std::fabs(std::sin(seq * 0.37))), "us", false},
      {"area_um2", 100.0 * bits * bits, "um2", false},
      {"energy_pj", 0.5 * bits + 0.01 * (seq % 50), "pJ", false},
  };
  for (const auto& m : metrics) {
    auto* out = c->add_metrics();
    out->set_name(m.name);
    out->set_value(m.value);
    out->set_unit(m.unit);
    out->set_higher_is_better(m.higher);
  }
}

void Submit(qlab::v1::JobService::Stub& jobs, const nlohmann::json& sweep) {
  qlab::v1::SubmitExperimentRequest req;
  req.set_sweep_json(sweep.dump());
  qlab::v1::SubmitExperimentResponse resp;
  grpc::Status st = jobs.SubmitExperiment(Deadline(std::chrono::minutes(10)).get(), req, &resp);
  if (!st.ok()) {
    std::fprintf(stderr, "submit %s failed: %s\n", sweep["name"].get<std::string>().c_str(),
                 st.error_message().c_str());
    std::exit(1);
  }
}

// Completes `jobs` noop jobs with `workers` fake workers leasing `batch` jobs at a time.
void Complete(const std::string& address, int jobs, int batch, int workers, const std::string& tag) {
  qlab::testing::FakeWorkerOptions options;
  options.address = address;
  options.id_prefix = "bench-" + tag;
  options.workers = workers;
  options.batch = batch;
  options.fill = [](const qlab::v1::Lease& l, qlab::v1::Completion* c) {
    const int64_t now = std::chrono::duration_cast<std::chrono::milliseconds>(
                            std::chrono::system_clock::now().time_since_epoch()).count();
    auto params = nlohmann::json::parse(l.params_json(), nullptr, false);
    std::string label = params.is_object() ? params.value("label", std::string("dt0")) : "dt0";
    int seq = params.is_object() ? params.value("seq", 0) : 0;
    c->set_started_unix_ms(now - 5);
    c->set_finished_unix_ms(now);
    AddMetrics(c, label.size() > 2 ? std::atoi(label.c_str() + 2) : 0, seq);
  };
  int reported = 0;
  options.on_progress = [&](int done) {
    if (done / 10000 != reported / 10000) {
      std::fprintf(stderr, "  %s: %d / %d jobs completed\n", tag.c_str(), done, jobs);
    }
    reported = done;
  };
  qlab::testing::CompleteJobsWithFakeWorkers(options, jobs);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: dashboard_seed DB_FILE [jobs=100000] [batch=500] [workers=2]\n");
    return 2;
  }
  const std::string db = argv[1];
  const int jobs = argc > 2 ? std::atoi(argv[2]) : 100000;
  const int batch = argc > 3 ? std::atoi(argv[3]) : 500;
  const int workers = argc > 4 ? std::atoi(argv[4]) : 2;
  if (jobs % 10 != 0 || jobs < 10) {
    std::fprintf(stderr, "jobs must be a positive multiple of 10\n");
    return 2;
  }

  qlab::testing::TempDir dir;
  const std::string port_file = dir.File("ports.json");
  qlab::testing::Process server({QLAB_SERVER_BIN, "--db", db, "--grpc-listen", "127.0.0.1:0",
                                 "--http-listen", "127.0.0.1:0", "--port-file", port_file,
                                 "--max-sweep-jobs", std::to_string(jobs)},
                                db + ".seed.log");
  if (!qlab::testing::WaitFor([&] { return access(port_file.c_str(), R_OK) == 0 || !server.running(); },
                              std::chrono::seconds(30)) || !server.running()) {
    std::fprintf(stderr, "qlab-server did not start; see %s.seed.log\n", db.c_str());
    return 1;
  }
  std::ifstream in(port_file);
  const std::string address = nlohmann::json::parse(in)["grpc"];
  grpc::ChannelArguments args;
  args.SetMaxSendMessageSize(256 << 20);
  auto channel = grpc::CreateCustomChannel(address, grpc::InsecureChannelCredentials(), args);
  auto job_stub = qlab::v1::JobService::NewStub(channel);

  auto start = Clock::now();
  nlohmann::json labels = nlohmann::json::array(), seq = nlohmann::json::array();
  for (int i = 0; i < 10; ++i) labels.push_back("dt" + std::to_string(i));
  for (int i = 0; i < jobs / 10; ++i) seq.push_back(i);
  Submit(*job_stub, {{"name", "bench-main"}, {"kind", "noop"}, {"axes", {{"label", labels}, {"seq", seq}}}});
  double submit_s = std::chrono::duration<double>(Clock::now() - start).count();
  std::fprintf(stderr, "submitted %d jobs in %.1f s\n", jobs, submit_s);
  Complete(address, jobs, batch, workers, "main");
  double complete_s = std::chrono::duration<double>(Clock::now() - start).count() - submit_s;

  nlohmann::json small_seq = nlohmann::json::array();
  for (int i = 0; i < 20; ++i) small_seq.push_back(i * 37);
  Submit(*job_stub, {{"name", "bench-small"}, {"kind", "noop"}, {"axes", {{"label", labels}, {"seq", small_seq}}}});
  Complete(address, 200, batch, 1, "small");
  nlohmann::json pending_seq = nlohmann::json::array();
  for (int i = 0; i < 1000; ++i) pending_seq.push_back(i);
  Submit(*job_stub, {{"name", "bench-pending"}, {"kind", "noop"},
                     {"requirements", {{"device_class", "cuda"}}}, {"axes", {{"seq", pending_seq}}}});

  server.Signal(SIGTERM);
  int code = server.Wait(std::chrono::seconds(60));
  std::printf("{\"jobs\": %d, \"result_rows\": %d, \"submit_s\": %.2f, \"complete_s\": %.2f, "
              "\"server_exit\": %d}\n",
              jobs + 200 + 1000, (jobs + 200) * 10, submit_s, complete_s, code);
  return code == 0 ? 0 : 1;
}
