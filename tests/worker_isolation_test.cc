// Workers that survive any job: on a real coordinator and one real worker daemon, jobs that
// segfault, abort, hang past timeout_s, exceed the memory limit, or name hostile model files
// each end FAILED with their class and reason — and the same daemon process goes on to run
// ordinary jobs. Their evaluators' output is kept per attempt and read back with `qlab logs`.
#include <gtest/gtest.h>

#include <cstdint>
#include <filesystem>
#include <fstream>

#include <httplib.h>
#include <nlohmann/json.hpp>

#include "tests/support/cluster.h"

namespace qlab::testing {
namespace {

using namespace std::chrono_literals;

int64_t Submit(Cluster& c, const std::string& experiment, const std::string& kind,
               const nlohmann::json& params, int max_attempts = 2, int timeout_s = 0) {
  v1::SubmitJobRequest req;
  req.set_experiment(experiment);
  req.mutable_spec()->set_kind(kind);
  req.mutable_spec()->set_params_json(params.dump());
  req.mutable_spec()->set_max_attempts(max_attempts);
  req.mutable_spec()->set_timeout_s(timeout_s);
  v1::Job job;
  grpc::Status st = c.jobs().SubmitJob(Deadline().get(), req, &job);
  EXPECT_TRUE(st.ok()) << experiment << ": " << st.error_message();
  return job.id();
}

v1::Job WaitForEnd(Cluster& c, int64_t id, std::chrono::seconds timeout = 120s) {
  v1::Job job;
  WaitFor([&] {
    v1::GetJobRequest req;
    req.set_job_id(id);
    job = v1::Job();
    if (!c.jobs().GetJob(Deadline().get(), req, &job).ok()) return false;
    return job.state() == v1::JOB_STATE_SUCCEEDED || job.state() == v1::JOB_STATE_FAILED ||
           job.state() == v1::JOB_STATE_CANCELLED;
  }, timeout);
  return job;
}

void WriteBytes(const std::string& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << bytes;
}

class WorkerIsolationTest : public ::testing::Test {
 protected:
  void SetUp() override {
    cluster_.StartServer();
    // Two slots: a retried job comes back to this worker while it has room, so a new lease of
    // a job meets the finished thread of its previous attempt.
    worker_ = cluster_.StartWorker(
        {"--job-memory-limit", "400M", "--worker-id", "w1", "--slots", "2"});
    worker_pid_ = cluster_.worker(worker_).pid();
  }

  // The daemon that ran everything is the one started in SetUp, and it still runs.
  void ExpectSameDaemonAlive() {
    EXPECT_TRUE(cluster_.worker(worker_).running());
    EXPECT_EQ(cluster_.worker(worker_).pid(), worker_pid_);
  }

  Cluster cluster_;
  size_t worker_ = 0;
  pid_t worker_pid_ = -1;
};

// A crash is retried until max_attempts, then FAILED as poison; every attempt says crash.
void ExpectPoison(const v1::Job& job, const std::string& reason) {
  EXPECT_EQ(job.state(), v1::JOB_STATE_FAILED) << job.ShortDebugString();
  EXPECT_EQ(job.failure_class(), "poison") << job.ShortDebugString();
  EXPECT_NE(job.last_error().find(reason), std::string::npos) << job.last_error();
  ASSERT_EQ(job.attempt_history_size(), 2) << job.ShortDebugString();
  for (const auto& a : job.attempt_history()) {
    EXPECT_EQ(a.outcome(), "failed");
    EXPECT_EQ(a.failure_class(), "crash");
    EXPECT_EQ(a.worker_id(), "w1");
  }
}

TEST_F(WorkerIsolationTest, CrashingHangingAndHungryJobsFailWithTheirClassAndTheDaemonGoesOn) {
  const int64_t segv = Submit(cluster_, "faults", "noop", {{"fault", "segv"}});
  const int64_t abort_job = Submit(cluster_, "faults", "noop", {{"fault", "abort"}});
  const int64_t hang = Submit(cluster_, "faults", "noop", {{"fault", "hang"}}, 2, /*timeout_s=*/2);
  const int64_t oom = Submit(cluster_, "faults", "noop", {{"fault", "oom"}});

  v1::Job j = WaitForEnd(cluster_, segv);
  ExpectPoison(j, "SIGSEGV");
  EXPECT_NE(j.last_error().find("crashed on all 2 attempt(s)"), std::string::npos) << j.last_error();
  ExpectPoison(WaitForEnd(cluster_, abort_job), "SIGABRT");
  j = WaitForEnd(cluster_, oom);
  ExpectPoison(j, "memory");
  EXPECT_TRUE(j.last_error().find("memory limit (") != std::string::npos ||
              j.last_error().find("out of memory") != std::string::npos) << j.last_error();

  // A hang is the job's own error: killed at timeout_s, not retried.
  j = WaitForEnd(cluster_, hang);
  EXPECT_EQ(j.state(), v1::JOB_STATE_FAILED);
  EXPECT_EQ(j.failure_class(), "job_error");
  EXPECT_NE(j.last_error().find("ran longer than 2 s"), std::string::npos) << j.last_error();
  ASSERT_EQ(j.attempt_history_size(), 1);
  EXPECT_EQ(j.attempt_history(0).failure_class(), "job_error");

  // The same daemon runs ordinary work afterwards, in process and in a child.
  const int64_t noop = Submit(cluster_, "after", "noop", {{"duration_ms", 10}});
  const int64_t quantize = Submit(cluster_, "after", "quantize",
                                  {{"datatype", "nf4"}, {"distribution", "gaussian"},
                                   {"shape", {128, 128}}});
  EXPECT_EQ(WaitForEnd(cluster_, noop).state(), v1::JOB_STATE_SUCCEEDED);
  j = WaitForEnd(cluster_, quantize);
  EXPECT_EQ(j.state(), v1::JOB_STATE_SUCCEEDED) << j.last_error();
  EXPECT_EQ(j.worker_id(), "w1");
  EXPECT_EQ(j.failure_class(), "");
  ExpectSameDaemonAlive();

  // Each attempt's output is kept: the evaluator's own words before it died.
  std::string out;
  ASSERT_EQ(cluster_.Cli({"logs", std::to_string(segv), "--attempt", "1"}, &out), 0) << out;
  EXPECT_NE(out.find("injecting fault 'segv'"), std::string::npos) << out;
  ASSERT_EQ(cluster_.Cli({"logs", std::to_string(segv)}, &out), 0) << out;
  EXPECT_NE(out.find("attempt 2 of 2"), std::string::npos) << out;
  EXPECT_NE(out.find("failed (crash)"), std::string::npos) << out;
  EXPECT_NE(cluster_.Cli({"logs", std::to_string(segv), "--attempt", "3"}, &out), 0);
  EXPECT_NE(out.find("has 2 attempt(s)"), std::string::npos) << out;
  ASSERT_EQ(cluster_.Cli({"jobs", "--experiment", "faults", "--state", "failed"}, &out), 0) << out;
  EXPECT_NE(out.find("[poison] the evaluator crashed on all 2 attempt(s) (max_attempts); last: "
                     "ABORTED: the evaluator was killed by SIGSEGV"), std::string::npos)
      << out;
  EXPECT_NE(out.find("[job_error] DEADLINE_EXCEEDED: timeout_s"), std::string::npos) << out;
  ASSERT_EQ(cluster_.Cli({"show", std::to_string(segv)}, &out), 0) << out;
  EXPECT_NE(out.find("failure:  poison"), std::string::npos) << out;
  EXPECT_NE(out.find("failed (crash)"), std::string::npos) << out;
  // The dashboard's route: the same log as text, and the class in the job's JSON.
  httplib::Client http(cluster_.http_address());
  auto log = http.Get("/api/v1/jobs/" + std::to_string(segv) + "/log?attempt=1");
  ASSERT_TRUE(log);
  EXPECT_EQ(log->status, 200);
  EXPECT_NE(log->body.find("injecting fault 'segv'"), std::string::npos);
  EXPECT_EQ(log->get_header_value("X-Qlab-Attempts"), "2");
  auto page = http.Get("/api/v1/jobs/" + std::to_string(segv));
  ASSERT_TRUE(page);
  auto doc = nlohmann::json::parse(page->body);
  EXPECT_EQ(doc["failure_class"], "poison");
  EXPECT_EQ(doc["attempts"][0]["failure_class"], "crash");
  EXPECT_GT(doc["attempts"][0]["log_bytes"].get<int64_t>(), 0);
  // The class is a metric label.
  auto metrics = http.Get("/metrics");
  ASSERT_TRUE(metrics);
  EXPECT_NE(metrics->body.find(
                R"(qlab_job_failures_total{class="poison",kind="noop",result="failed"} 3)"),
            std::string::npos) << metrics->body.substr(0, 4000);
  EXPECT_NE(metrics->body.find(
                R"(qlab_job_failures_total{class="crash",kind="noop",result="retried"} 3)"),
            std::string::npos);
}

// Model files whose headers promise what the file cannot hold are refused before anything is
// allocated: FAILED as job errors, not retried, and the daemon goes on.
TEST_F(WorkerIsolationTest, HostileModelFilesAreJobErrors) {
#ifndef QLAB_TEST_HAVE_TORCH
  GTEST_SKIP() << "this build has no LibTorch, so no worker runs accuracy jobs";
#endif
  const std::string tokens = std::string(QLAB_SOURCE_DIR) + "/models/kjv/heldout.tok";
  // A 28-byte llama2.c header declaring 2^20 layers.
  const int32_t header[7] = {128, 384, 1 << 20, 4, 4, 256, 1024};
  const std::string llama2c = cluster_.dir().File("layers.bin");
  WriteBytes(llama2c, std::string(reinterpret_cast<const char*>(header), sizeof(header)));
  // A 1 KB Hugging Face config.json declaring 16,000,000 layers.
  const std::string hf = cluster_.dir().File("hf");
  std::filesystem::create_directories(hf);
  WriteBytes(hf + "/config.json", nlohmann::json{{"architectures", {"LlamaForCausalLM"}},
                                                 {"model_type", "llama"},
                                                 {"hidden_size", 4096},
                                                 {"intermediate_size", 11008},
                                                 {"num_hidden_layers", 16000000},
                                                 {"num_attention_heads", 32},
                                                 {"num_key_value_heads", 32},
                                                 {"vocab_size", 32000},
                                                 {"max_position_embeddings", 4096},
                                                 {"rms_norm_eps", 1e-5},
                                                 {"torch_dtype", "float16"}}.dump());
  // A well-formed safetensors file holding no tensor: 8-byte header length, then "{}".
  WriteBytes(hf + "/model.safetensors", std::string("\x02\0\0\0\0\0\0\0{}", 10));
  const int64_t a = Submit(cluster_, "hostile", "accuracy",
                           {{"model", llama2c}, {"tokens", tokens}, {"datatype", "int4_asym"}});
  const int64_t b = Submit(cluster_, "hostile", "accuracy",
                           {{"model", hf}, {"tokens", tokens}, {"datatype", "int4_asym"}});
  for (int64_t id : {a, b}) {
    v1::Job j = WaitForEnd(cluster_, id);
    EXPECT_EQ(j.state(), v1::JOB_STATE_FAILED) << j.ShortDebugString();
    EXPECT_EQ(j.failure_class(), "job_error") << j.ShortDebugString();
    EXPECT_EQ(j.attempt_history_size(), 1);
    EXPECT_NE(j.last_error().find(id == a ? "layers" : "implies"), std::string::npos)
        << j.last_error();
  }
  const int64_t noop = Submit(cluster_, "after", "noop", {{"duration_ms", 1}});
  EXPECT_EQ(WaitForEnd(cluster_, noop).state(), v1::JOB_STATE_SUCCEEDED);
  ExpectSameDaemonAlive();
}

}  // namespace
}  // namespace qlab::testing
