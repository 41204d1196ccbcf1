// Auth and TLS on a real coordinator (DESIGN §10): every gRPC method, enumerated from the
// service descriptors, and every HTTP route, called without a token, with each role's token and
// with an unknown one; a worker and the CLI with tokens; TLS with a self-signed certificate.
#include <gtest/gtest.h>

#include <google/protobuf/descriptor.h>

#include <fstream>
#include <functional>
#include <map>
#include <regex>
#include <set>
#include <sstream>
#include <string>

#include <httplib.h>
#include <nlohmann/json.hpp>

#include "tests/support/cluster.h"

namespace qlab::testing {
namespace {

using namespace std::chrono_literals;

const std::vector<std::string> kRoles = {"viewer", "submitter", "worker", "admin"};
const std::set<std::string> kReaders = {"viewer", "submitter", "admin"};
const std::set<std::string> kSubmitters = {"submitter", "admin"};
const std::set<std::string> kWorkers = {"worker", "admin"};
const std::set<std::string> kEveryone = {"viewer", "submitter", "worker", "admin"};

std::string CreateToken(const std::string& auth_file, const std::string& role) {
  std::string out;
  EXPECT_EQ(RunCommand({QLAB_SERVER_BIN, "token", "create", "--auth-file", auth_file, "--role", role,
                        "--name", role + "-holder"}, &out), 0) << out;
  while (!out.empty() && (out.back() == '\n' || out.back() == '\r')) out.pop_back();
  return out;
}

class AuthIntegrationTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auth_file_ = setup_dir_.File("auth");
    for (const auto& role : kRoles) tokens_[role] = CreateToken(auth_file_, role);
    cluster_ = std::make_unique<Cluster>(std::vector<std::string>{"--auth-file", auth_file_});
    cluster_->StartServer();
    channel_ = grpc::CreateChannel(cluster_->grpc_address(), grpc::InsecureChannelCredentials());
  }
  std::unique_ptr<grpc::ClientContext> Ctx(const std::string& token) {
    auto ctx = Deadline(5s);
    if (!token.empty()) ctx->AddMetadata("authorization", "Bearer " + token);
    return ctx;
  }
  std::string TokenFile(const std::string& role) {
    std::string path = setup_dir_.File(role + ".token");
    std::ofstream(path) << tokens_[role] << "\n";
    return path;
  }

  TempDir setup_dir_;
  std::string auth_file_;
  std::map<std::string, std::string> tokens_;
  std::unique_ptr<Cluster> cluster_;
  std::shared_ptr<grpc::Channel> channel_;
};

TEST_F(AuthIntegrationTest, EveryGrpcMethodNeedsATokenWithTheRightRole) {
  auto jobs = v1::JobService::NewStub(channel_);
  auto workers = v1::WorkerService::NewStub(channel_);
  auto results = v1::ResultService::NewStub(channel_);
  // A finished job to read, submitted with the submitter's token.
  {
    v1::SubmitExperimentRequest req;
    req.set_sweep_json(R"({"name": "seed", "kind": "noop"})");
    v1::SubmitExperimentResponse resp;
    ASSERT_TRUE(jobs->SubmitExperiment(Ctx(tokens_["submitter"]).get(), req, &resp).ok());
  }
  int sweep_counter = 0;
  struct Case {
    std::set<std::string> allowed;
    std::function<grpc::Status(grpc::ClientContext*)> call;
  };
  std::map<std::string, Case> cases = {
      {"qlab.v1.JobService.SubmitExperiment", {kSubmitters, [&](grpc::ClientContext* c) {
         v1::SubmitExperimentRequest r;
         r.set_sweep_json(R"({"name": "s)" + std::to_string(++sweep_counter) + R"(", "kind": "noop"})");
         v1::SubmitExperimentResponse resp;
         return jobs->SubmitExperiment(c, r, &resp);
       }}},
      {"qlab.v1.JobService.SubmitJob", {kSubmitters, [&](grpc::ClientContext* c) {
         v1::SubmitJobRequest r;
         r.set_experiment("seed");
         r.mutable_spec()->set_kind("noop");
         v1::Job resp;
         return jobs->SubmitJob(c, r, &resp);
       }}},
      {"qlab.v1.JobService.GetJob", {kReaders, [&](grpc::ClientContext* c) {
         v1::GetJobRequest r;
         r.set_job_id(1);
         v1::Job resp;
         return jobs->GetJob(c, r, &resp);
       }}},
      {"qlab.v1.JobService.ListJobs", {kReaders, [&](grpc::ClientContext* c) {
         v1::ListJobsResponse resp;
         return jobs->ListJobs(c, {}, &resp);
       }}},
      {"qlab.v1.JobService.CancelJob", {kSubmitters, [&](grpc::ClientContext* c) {
         v1::CancelJobRequest r;
         r.set_job_id(424242);
         v1::CancelJobResponse resp;
         return jobs->CancelJob(c, r, &resp);
       }}},
      {"qlab.v1.JobService.WatchJob", {kReaders, [&](grpc::ClientContext* c) {
         v1::WatchJobRequest r;
         r.set_job_id(424242);
         auto reader = jobs->WatchJob(c, r);
         v1::Job job;
         while (reader->Read(&job)) {
         }
         return reader->Finish();
       }}},
      {"qlab.v1.JobService.GetExperiment", {kReaders, [&](grpc::ClientContext* c) {
         v1::GetExperimentRequest r;
         r.set_name("seed");
         v1::Experiment resp;
         return jobs->GetExperiment(c, r, &resp);
       }}},
      {"qlab.v1.JobService.GetJobLog", {kReaders, [&](grpc::ClientContext* c) {
         v1::GetJobLogRequest r;
         r.set_job_id(1);
         v1::GetJobLogResponse resp;
         return jobs->GetJobLog(c, r, &resp);
       }}},
      {"qlab.v1.JobService.GetStudy", {kReaders, [&](grpc::ClientContext* c) {
         v1::GetStudyRequest r;
         r.set_experiment("seed");
         v1::GetStudyResponse resp;
         return jobs->GetStudy(c, r, &resp);
       }}},
      {"qlab.v1.JobService.ListExperiments", {kReaders, [&](grpc::ClientContext* c) {
         v1::ListExperimentsResponse resp;
         return jobs->ListExperiments(c, {}, &resp);
       }}},
      {"qlab.v1.WorkerService.Register", {kWorkers, [&](grpc::ClientContext* c) {
         v1::RegisterRequest r;
         r.set_worker_id("probe");
         r.set_slots(1);
         v1::RegisterResponse resp;
         return workers->Register(c, r, &resp);
       }}},
      {"qlab.v1.WorkerService.AcquireLease", {kWorkers, [&](grpc::ClientContext* c) {
         v1::AcquireLeaseRequest r;
         r.set_worker_id("nobody");
         v1::AcquireLeaseResponse resp;
         return workers->AcquireLease(c, r, &resp);
       }}},
      {"qlab.v1.WorkerService.Heartbeat", {kWorkers, [&](grpc::ClientContext* c) {
         v1::HeartbeatRequest r;
         r.set_worker_id("nobody");
         v1::HeartbeatResponse resp;
         return workers->Heartbeat(c, r, &resp);
       }}},
      {"qlab.v1.WorkerService.Complete", {kWorkers, [&](grpc::ClientContext* c) {
         v1::CompleteRequest r;
         r.set_worker_id("nobody");
         v1::CompleteResponse resp;
         return workers->Complete(c, r, &resp);
       }}},
      {"qlab.v1.WorkerService.ListWorkers", {kEveryone, [&](grpc::ClientContext* c) {
         v1::ListWorkersResponse resp;
         return workers->ListWorkers(c, {}, &resp);
       }}},
      {"qlab.v1.WorkerService.DrainWorker", {{"admin"}, [&](grpc::ClientContext* c) {
         v1::DrainWorkerRequest r;
         r.set_worker_id("probe");
         v1::DrainWorkerResponse resp;
         return workers->DrainWorker(c, r, &resp);
       }}},
      {"qlab.v1.WorkerService.ReportCanary", {kWorkers, [&](grpc::ClientContext* c) {
         v1::ReportCanaryRequest r;
         r.set_worker_id("nobody");
         r.set_device("cpu");
         r.set_canary("probe");
         r.set_median_us(1);
         v1::ReportCanaryResponse resp;
         return workers->ReportCanary(c, r, &resp);
       }}},
      {"qlab.v1.ResultService.Compare", {kReaders, [&](grpc::ClientContext* c) {
         v1::CompareRequest r;
         r.set_a("seed");
         r.set_b("seed");
         v1::CompareResponse resp;
         return results->Compare(c, r, &resp);
       }}},
      {"qlab.v1.ResultService.QueryResults", {kReaders, [&](grpc::ClientContext* c) {
         v1::QueryResultsRequest r;
         r.set_experiment("seed");
         v1::QueryResultsResponse resp;
         return results->QueryResults(c, r, &resp);
       }}},
      {"qlab.v1.ResultService.Pareto", {kReaders, [&](grpc::ClientContext* c) {
         v1::ParetoRequest r;
         r.set_experiment("seed");
         r.set_x_metric("duration_ms");
         r.set_y_metric("duration_ms");
         v1::ParetoResponse resp;
         return results->Pareto(c, r, &resp);
       }}},
      {"qlab.v1.ResultService.ExportDataset", {kEveryone, [&](grpc::ClientContext* c) {
         auto reader = results->ExportDataset(c, {});
         v1::DatasetRow row;
         while (reader->Read(&row)) {
         }
         return reader->Finish();
       }}},
      {"qlab.v1.ResultService.ExportResults", {kReaders, [&](grpc::ClientContext* c) {
         v1::ExportResultsRequest r;
         r.set_experiment("seed");
         auto reader = results->ExportResults(c, r);
         v1::ExportResultsChunk chunk;
         while (reader->Read(&chunk)) {
         }
         return reader->Finish();
       }}},
      {"qlab.v1.ResultService.GetArtifacts", {kEveryone, [&](grpc::ClientContext* c) {
         v1::GetArtifactsRequest r;
         r.set_job_id(1);
         v1::GetArtifactsResponse resp;
         return results->GetArtifacts(c, r, &resp);
       }}},
  };
  // Every method of every qlab service has a case: a new RPC cannot ship unchecked.
  std::set<std::string> methods;
  for (const char* service : {"qlab.v1.JobService", "qlab.v1.WorkerService", "qlab.v1.ResultService"}) {
    const auto* descriptor = google::protobuf::DescriptorPool::generated_pool()->FindServiceByName(service);
    ASSERT_NE(descriptor, nullptr) << service;
    for (int i = 0; i < descriptor->method_count(); ++i) methods.insert(descriptor->method(i)->full_name());
  }
  std::set<std::string> covered;
  for (const auto& [name, c] : cases) covered.insert(name);
  EXPECT_EQ(methods, covered);

  for (auto& [name, c] : cases) {
    grpc::Status st = c.call(Ctx("").get());
    EXPECT_EQ(st.error_code(), grpc::UNAUTHENTICATED) << name << " without a token: " << st.error_message();
    st = c.call(Ctx("qlab_" + std::string(64, '0')).get());
    EXPECT_EQ(st.error_code(), grpc::UNAUTHENTICATED) << name << " with an unknown token";
    for (const auto& role : kRoles) {
      st = c.call(Ctx(tokens_[role]).get());
      if (c.allowed.count(role)) {
        EXPECT_NE(st.error_code(), grpc::UNAUTHENTICATED) << name << " as " << role;
        EXPECT_NE(st.error_code(), grpc::PERMISSION_DENIED) << name << " as " << role << ": " << st.error_message();
      } else {
        EXPECT_EQ(st.error_code(), grpc::PERMISSION_DENIED) << name << " as " << role;
        EXPECT_NE(st.error_message().find("role " + role), std::string::npos) << st.error_message();
      }
    }
  }
}

TEST_F(AuthIntegrationTest, EveryHttpRouteButHealthzNeedsAToken) {
  const std::vector<std::string> routes = {
      "/api/v1/summary", "/api/v1/experiments", "/api/v1/experiments/seed",
      "/api/v1/experiments/seed/results", "/api/v1/experiments/seed/pareto?x=duration_ms&y=duration_ms",
      "/api/v1/jobs", "/api/v1/jobs/1", "/api/v1/jobs/1/artifacts", "/api/v1/jobs/1/artifacts/none", "/api/v1/jobs/1/log",
      "/api/v1/workers", "/api/v1/compare?a=seed&b=seed", "/api/v1/latency/devices", "/api/v1/latency", "/api/v1/studies/seed",
      "/metrics"};
  // Every GET route the server registers is in the list, but the two that need no token.
  std::stringstream text;
  for (const char* file : {"/server/http_api.cc", "/server/http_jobs.cc"}) {
    std::ifstream source(std::string(QLAB_SOURCE_DIR) + file);
    ASSERT_TRUE(source) << file;
    text << source.rdbuf();
  }
  const std::string code = text.str();
  std::regex get_route(R"re(http\.Get\(R?"\(?([^"]*?)\)?")re");
  std::set<std::string> registered;
  for (auto it = std::sregex_iterator(code.begin(), code.end(), get_route); it != std::sregex_iterator(); ++it) {
    registered.insert((*it)[1].str());
  }
  EXPECT_EQ(registered.size(), routes.size() + 2) << "a route was added: test it here";
  std::ofstream(setup_dir_.File("seed.yaml")) << "name: seed\nkind: noop\n";
  std::string out;
  ASSERT_EQ(cluster_->Cli({"--token-file", TokenFile("submitter"), "submit", setup_dir_.File("seed.yaml")}, &out), 0)
      << out;

  httplib::Client http("http://" + cluster_->http_address());
  auto get = [&](const std::string& path, const std::string& token) {
    httplib::Headers headers;
    if (!token.empty()) headers.emplace("Authorization", "Bearer " + token);
    auto res = http.Get(path, headers);
    return res ? res->status : -1;
  };
  for (const auto& route : routes) {
    EXPECT_EQ(get(route, ""), 401) << route;
    EXPECT_EQ(get(route, "qlab_nope"), 401) << route;
    for (const auto& role : kRoles) {
      const bool artifacts = route.find("/artifacts") != std::string::npos;
      const bool allowed = artifacts ? kEveryone.count(role) > 0 : kReaders.count(role) > 0;
      const int status = get(route, tokens_[role]);
      if (allowed) {
        EXPECT_NE(status, 401) << route << " as " << role;
        EXPECT_NE(status, 403) << route << " as " << role;
      } else {
        EXPECT_EQ(status, 403) << route << " as " << role;
      }
    }
  }
  EXPECT_EQ(get("/healthz", ""), 200);
  EXPECT_EQ(get("/", ""), 200) << "the dashboard's page holds no data; it asks for a token";
}

TEST_F(AuthIntegrationTest, WorkerAndCliWithTokensRunASweepAndTheCliExitsFourWhenRefused) {
  cluster_->StartWorker({"--token-file", TokenFile("worker")});
  std::string sweep = setup_dir_.File("s.yaml");
  std::ofstream(sweep) << "name: s\nkind: noop\naxes: {seq: [1, 2, 3]}\n";
  std::string out;
  EXPECT_EQ(cluster_->Cli({"submit", sweep}, &out), 4) << out;
  EXPECT_NE(out.find("no bearer token"), std::string::npos) << out;
  EXPECT_EQ(cluster_->Cli({"--token-file", TokenFile("viewer"), "submit", sweep}, &out), 4) << out;
  EXPECT_NE(out.find("'viewer-holder' has role viewer, which may not call SubmitExperiment"), std::string::npos) << out;
  EXPECT_EQ(cluster_->Cli({"--token-file", TokenFile("submitter"), "submit", "--wait", "--quiet", sweep}, &out), 0)
      << out;
  EXPECT_EQ(cluster_->Cli({"--token-file", TokenFile("viewer"), "results", "--experiment", "s", "--json"}, &out), 0);
  auto rows = nlohmann::json::parse(out, nullptr, false);
  ASSERT_TRUE(rows.is_array()) << out;
  EXPECT_EQ(rows.size(), 3u);
  for (const auto& row : rows) EXPECT_EQ(row["state"], "SUCCEEDED");
  EXPECT_EQ(cluster_->Cli({"--token-file", setup_dir_.File("missing"), "experiments"}, &out), 2);
}

TEST(ExposureTest, ANonLoopbackListenNeedsAnAuthFileOrInsecureNoAuth) {
  TempDir dir;
  std::string out;
  int code = RunCommand({QLAB_SERVER_BIN, "--db", dir.File("q.db"), "--grpc-listen", "0.0.0.0:0",
                         "--http-listen", "127.0.0.1:0"}, &out, 20s);
  EXPECT_EQ(code, 2) << out;
  EXPECT_NE(out.find("--insecure-no-auth"), std::string::npos) << out;
  code = RunCommand({QLAB_SERVER_BIN, "--db", dir.File("q.db"), "--grpc-listen", "127.0.0.1:0",
                     "--http-listen", "0.0.0.0:0"}, &out, 20s);
  EXPECT_EQ(code, 2) << out;
  // Accepted when asked for: it starts (and is stopped by the test).
  Cluster open({"--insecure-no-auth"});
  EXPECT_NO_THROW(open.StartServer());
}

TEST(TlsTest, SelfSignedCertificateServesGrpcAndHttpsToClientsThatTrustIt) {
  TempDir dir;
  std::string out;
  ASSERT_EQ(RunCommand({"/usr/bin/openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
                        "-subj", "/CN=localhost", "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost",
                        "-keyout", dir.File("key.pem"), "-out", dir.File("cert.pem")}, &out), 0) << out;
  Cluster c({"--tls-cert", dir.File("cert.pem"), "--tls-key", dir.File("key.pem")});
  c.StartServer();
  c.StartWorker({"--tls-ca", dir.File("cert.pem")});
  std::string sweep = dir.File("s.yaml");
  std::ofstream(sweep) << "name: tls\nkind: noop\naxes: {seq: [1, 2]}\n";
  EXPECT_EQ(c.Cli({"--tls-ca", dir.File("cert.pem"), "submit", "--wait", "--quiet", sweep}, &out), 0) << out;
  // A client that does not use TLS cannot talk to it.
  EXPECT_EQ(c.Cli({"experiments"}, &out), 3) << out;
  EXPECT_EQ(c.Cli({"--tls-ca", dir.File("missing.pem"), "experiments"}, &out), 2) << out;

  httplib::SSLClient https(c.http_address().substr(0, c.http_address().rfind(':')),
                           std::stoi(c.http_address().substr(c.http_address().rfind(':') + 1)));
  https.set_ca_cert_path(dir.File("cert.pem").c_str());
  https.enable_server_certificate_verification(true);
  auto res = https.Get("/api/v1/experiments/tls");
  ASSERT_TRUE(res) << httplib::to_string(res.error());
  EXPECT_EQ(res->status, 200);
  EXPECT_NE(res->body.find("\"succeeded\":2"), std::string::npos) << res->body;
  httplib::Client plain("http://" + c.http_address());
  auto refused = plain.Get("/healthz");
  EXPECT_TRUE(!refused || refused->status != 200) << "plain HTTP to the TLS port must not work";
}

}  // namespace
}  // namespace qlab::testing
