// Hostile requests against a real coordinator: each is refused with a clear error naming what
// was wrong, and the coordinator goes on serving (every test ends with an ordinary call).
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <utility>
#include <vector>

#include <httplib.h>
#include <nlohmann/json.hpp>

#include "tests/support/cluster.h"

namespace qlab::testing {
namespace {

using namespace std::chrono_literals;

// The coordinator still answers an ordinary submission and listing after whatever came before.
void ExpectStillServing(Cluster& c) {
  ASSERT_TRUE(c.server().running()) << "the coordinator died";
  std::string out;
  ASSERT_EQ(c.Cli({"experiments"}, &out), 0) << out;
  v1::SubmitExperimentRequest req;
  req.set_sweep_json(R"({"name": "after", "kind": "noop", "axes": {"seq": [1, 2]}})");
  v1::SubmitExperimentResponse resp;
  grpc::Status st = c.jobs().SubmitExperiment(Deadline().get(), req, &resp);
  ASSERT_TRUE(st.ok()) << st.error_message();
  EXPECT_EQ(resp.job_count(), 2);
}

class HostileInputTest : public ::testing::Test {
 protected:
  void SetUp() override { cluster_.StartServer(); }
  std::string File(const std::string& name, const std::string& text) {
    std::string path = cluster_.dir().File(name);
    std::ofstream(path) << text;
    return path;
  }
  Cluster cluster_;
};

TEST_F(HostileInputTest, DeeplyNestedFilterIsRefused) {
  std::string out;
  const std::string parens = std::string(60000, '(') + "kind = noop" + std::string(60000, ')');
  ASSERT_EQ(cluster_.Cli({"submit", File("s.yaml", "name: s\nkind: noop\n")}, &out), 0) << out;
  EXPECT_EQ(cluster_.Cli({"results", "--experiment", "s", "--filter", parens}, &out), 2);
  EXPECT_NE(out.find("filter: longer than 16384 bytes"), std::string::npos) << out;
  std::string nots;
  for (int i = 0; i < 2000; ++i) nots += "not ";
  EXPECT_EQ(cluster_.Cli({"results", "--experiment", "s", "--filter", nots + "kind = noop"}, &out), 2);
  EXPECT_NE(out.find("filter: nested deeper than 64 levels"), std::string::npos) << out;
  // The same over gRPC's Pareto and the HTTP API.
  v1::ParetoRequest pareto;
  pareto.set_experiment("s");
  pareto.set_x_metric("duration_ms");
  pareto.set_y_metric("duration_ms");
  pareto.set_filter(std::string(3000, '(') + "kind = noop" + std::string(3000, ')'));
  v1::ParetoResponse pareto_resp;
  EXPECT_EQ(cluster_.results().Pareto(Deadline().get(), pareto, &pareto_resp).error_code(),
            grpc::INVALID_ARGUMENT);
  httplib::Client http("http://" + cluster_.http_address());
  auto res = http.Get("/api/v1/experiments/s/results?filter=" + std::string(3000, '(') + "x");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 400) << res->body;
  ExpectStillServing(cluster_);
}

TEST_F(HostileInputTest, DeeplyNestedSweepFileIsRefusedByTheCliAndTheServer) {
  std::string out;
  const std::string deep = std::string(100000, '[') + std::string(100000, ']');
  EXPECT_EQ(cluster_.Cli({"submit", File("deep.json", R"({"name": "d", "kind": "noop", "params": {"label": )" +
                                                         deep + "}}")}, &out), 2);
  EXPECT_NE(out.find("sweep file nests deeper than 64 levels"), std::string::npos) << out;
  EXPECT_EQ(cluster_.Cli({"submit", File("deep.yaml", "name: d\nkind: noop\nparams: {label: " + deep + "}\n")},
                         &out), 2);
  // A client that skips the CLI's check meets the server's.
  v1::SubmitExperimentRequest req;
  req.set_sweep_json(R"({"name": "d", "kind": "noop", "params": {"label": )" + deep + "}}");
  v1::SubmitExperimentResponse resp;
  grpc::Status st = cluster_.jobs().SubmitExperiment(Deadline().get(), req, &resp);
  EXPECT_EQ(st.error_code(), grpc::INVALID_ARGUMENT);
  EXPECT_NE(st.error_message().find("sweep nests deeper than 64 levels"), std::string::npos)
      << st.error_message();
  v1::SubmitJobRequest job;
  job.set_experiment("d");
  job.mutable_spec()->set_kind("noop");
  job.mutable_spec()->set_params_json(R"({"label": )" + std::string(1000, '[') +
                                      std::string(1000, ']') + "}");
  v1::Job created;
  st = cluster_.jobs().SubmitJob(Deadline().get(), job, &created);
  EXPECT_EQ(st.error_code(), grpc::INVALID_ARGUMENT);
  EXPECT_NE(st.error_message().find("spec.params_json nests deeper"), std::string::npos)
      << st.error_message();
  ExpectStillServing(cluster_);
}

TEST_F(HostileInputTest, FiftyMegabyteParamsAreRefusedAndNothingIsStored) {
  const std::string big(50 << 20, 'x');
  v1::SubmitExperimentRequest req;
  req.set_sweep_json(R"({"name": "big", "kind": "noop", "params": {"label": ")" + big +
                     R"("}, "axes": {"seq": [1, 2, 3]}})");
  v1::SubmitExperimentResponse resp;
  grpc::Status st = cluster_.jobs().SubmitExperiment(Deadline(60s).get(), req, &resp);
  EXPECT_EQ(st.error_code(), grpc::INVALID_ARGUMENT);
  EXPECT_NE(st.error_message().find("params of one job is 5242"), std::string::npos)
      << st.error_message().substr(0, 200);
  EXPECT_NE(st.error_message().find("at most 65536"), std::string::npos);
  // Past the server's message limit, gRPC itself refuses the request.
  req.set_sweep_json(R"({"name": "bigger", "kind": "noop", "params": {"label": ")" +
                     std::string(70 << 20, 'x') + R"("}})");
  st = cluster_.jobs().SubmitExperiment(Deadline(60s).get(), req, &resp);
  EXPECT_EQ(st.error_code(), grpc::RESOURCE_EXHAUSTED) << st.error_message();
  v1::GetExperimentRequest get;
  get.set_name("big");
  v1::Experiment e;
  EXPECT_EQ(cluster_.jobs().GetExperiment(Deadline().get(), get, &e).error_code(), grpc::NOT_FOUND);
  ExpectStillServing(cluster_);
}

TEST_F(HostileInputTest, OverLongIdInAnHttpPathIs400) {
  httplib::Client http("http://" + cluster_.http_address());
  for (const std::string path : {"/api/v1/jobs/99999999999999999999999999",
                                 "/api/v1/jobs/99999999999999999999999999/artifacts",
                                 "/api/v1/jobs/99999999999999999999999999/artifacts/x",
                                 "/api/v1/jobs/0"}) {
    auto res = http.Get(path);
    ASSERT_TRUE(res) << path;
    EXPECT_EQ(res->status, 400) << path << " " << res->body;
    auto body = nlohmann::json::parse(res->body, nullptr, false);
    ASSERT_TRUE(body.is_object()) << res->body;
    EXPECT_NE(body.value("error", "").find("job id in the path"), std::string::npos) << res->body;
  }
  auto missing = http.Get("/api/v1/jobs/424242");
  ASSERT_TRUE(missing);
  EXPECT_EQ(missing->status, 404);
  ExpectStillServing(cluster_);
}

// A worker with --data-root runs no job that names a file outside it, and goes on working.
TEST_F(HostileInputTest, WorkerDataRootsConfineTheFilesJobsName) {
  std::filesystem::create_directories(cluster_.dir().path() / "data");
  std::filesystem::create_symlink("/etc/passwd", cluster_.dir().path() / "data" / "w.safetensors");
  cluster_.StartWorker({"--data-root", cluster_.dir().File("data")});
  std::string out;
  auto submit = [&](const std::string& name, const std::string& safetensors) {
    return cluster_.Cli({"submit", "--wait", "--quiet",
                         File(name + ".yaml", "name: " + name + "\nkind: quantize\nparams: {safetensors: " +
                                                  safetensors + ", tensor: w, datatype: nf4}\n")},
                        &out);
  };
  for (const auto& [name, path] : std::vector<std::pair<std::string, std::string>>{
           {"outside", "/etc/passwd"}, {"via-link", cluster_.dir().File("data/w.safetensors")}}) {
    EXPECT_EQ(submit(name, path), 1) << out;
    ASSERT_EQ(cluster_.Cli({"results", "--experiment", name, "--json"}, &out), 0) << out;
    auto rows = nlohmann::json::parse(out);
    ASSERT_EQ(rows.size(), 1u);
    EXPECT_EQ(rows[0]["state"], "FAILED");
    const std::string error = rows[0].value("error", "");
    EXPECT_NE(error.find("INVALID_ARGUMENT"), std::string::npos) << error;
    EXPECT_NE(error.find("params.safetensors: '" + path + "' is outside the worker's data roots"),
              std::string::npos) << error;
  }
  // The same worker runs the next job.
  EXPECT_EQ(cluster_.Cli({"submit", "--wait", "--quiet", File("ok.yaml", "name: ok\nkind: noop\n")}, &out), 0)
      << out;
  ExpectStillServing(cluster_);
}

// A full database: submissions get RESOURCE_EXHAUSTED and store nothing, reads go on, the
// coordinator keeps serving, and after a restart with room every accepted job is there.
TEST(FullDatabaseTest, SubmissionsAreRefusedReadsGoOnAndNothingAcceptedIsLost) {
  Cluster c({"--max-db-size-mb", "1"});
  c.StartServer();
  const std::string label(400, 'x');
  int accepted = 0;
  grpc::Status refused;
  for (int i = 0; i < 200 && refused.ok(); ++i) {
    v1::SubmitExperimentRequest req;
    req.set_sweep_json(R"({"name": "fill-)" + std::to_string(i) + R"(", "kind": "noop", "params": {"label": ")" +
                       label + R"("}, "axes": {"seq": [)" + [] {
                         std::string seq;
                         for (int k = 0; k < 100; ++k) seq += (k ? "," : "") + std::to_string(k);
                         return seq;
                       }() + "]}}");
    v1::SubmitExperimentResponse resp;
    refused = c.jobs().SubmitExperiment(Deadline(30s).get(), req, &resp);
    if (refused.ok()) ++accepted;
  }
  ASSERT_FALSE(refused.ok()) << "1 MB never filled up";
  EXPECT_EQ(refused.error_code(), grpc::RESOURCE_EXHAUSTED) << refused.error_message();
  EXPECT_NE(refused.error_message().find("full"), std::string::npos) << refused.error_message();
  // Reads go on: every accepted experiment, none of the refused one.
  std::string out;
  ASSERT_EQ(c.Cli({"experiments"}, &out), 0) << out;
  v1::ListJobsRequest list;
  list.set_page_size(1);
  v1::ListJobsResponse jobs;
  ASSERT_TRUE(c.jobs().ListJobs(Deadline().get(), list, &jobs).ok());
  EXPECT_EQ(jobs.total_count(), accepted * 100);
  EXPECT_EQ(c.Cli({"results", "--experiment", "fill-" + std::to_string(accepted)}, &out), 2) << out;
  ASSERT_TRUE(c.server().running());
  // Room again (a restart without the cap): the same sweep is accepted, the others are intact.
  c.KillServer();
  c.set_server_flags({});
  c.StartServer();
  v1::SubmitExperimentRequest again;
  again.set_sweep_json(R"({"name": "after-full", "kind": "noop", "axes": {"seq": [1, 2, 3]}})");
  v1::SubmitExperimentResponse resp;
  grpc::Status st;
  WaitFor([&] {  // the channel reconnects to the restarted server
    st = c.jobs().SubmitExperiment(Deadline().get(), again, &resp);
    return st.error_code() != grpc::UNAVAILABLE;
  }, 10s);
  ASSERT_TRUE(st.ok()) << st.error_message();
  ASSERT_TRUE(c.jobs().ListJobs(Deadline().get(), list, &jobs).ok());
  EXPECT_EQ(jobs.total_count(), accepted * 100 + 3);
}

}  // namespace
}  // namespace qlab::testing
