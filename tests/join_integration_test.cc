// Joins of two experiments (DESIGN §10 "Joins") against a real qlab-server: the qlab CLI's
// `results` and `pareto` with --join/--on, the same over gRPC and the HTTP API, and their
// refusals of bad input. Jobs are completed by in-process workers with chosen metrics, so the
// paired values and the front are known exactly.
#include <gtest/gtest.h>

#include <fstream>
#include <set>
#include <sstream>

#include <httplib.h>
#include <nlohmann/json.hpp>

#include "tests/support/cluster.h"
#include "tests/support/fake_workers.h"

namespace qlab::testing {
namespace {

using nlohmann::json;
using namespace std::chrono_literals;

// perplexity of "acc" and median_us of "lat" by (label, seq); both store bits_per_weight.
// Pairs (median_us, perplexity): int4/128 (40, 6.4), int4/32 (50, 6.0), nf4/128 (60, 6.2),
// nf4/32 (80, 5.9); minimizing both, nf4/128 is dominated by int4/32.
double Perplexity(const std::string& label, int seq) {
  if (label == "int4") return seq == 32 ? 6.0 : 6.4;
  if (label == "nf4") return seq == 32 ? 5.9 : 6.2;
  return 7.0;
}
double MedianUs(const std::string& label, int seq) {
  if (label == "int4") return seq == 32 ? 50 : 40;
  if (label == "nf4") return seq == 32 ? 80 : 60;
  return 100;
}

class JoinIntegrationTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    cluster_ = new Cluster();
    cluster_->StartServer();
    // A: e2m1 has no partner in B; B: fp8 has none in A.
    Run(R"({"name": "acc", "kind": "noop", "axes": {"label": ["int4", "nf4", "e2m1"], "seq": [32, 128]}})");
    Run(R"({"name": "lat", "kind": "noop", "axes": {"label": ["int4", "nf4", "fp8"], "seq": [32, 128]}})");
  }
  static void TearDownTestSuite() {
    delete cluster_;
    cluster_ = nullptr;
  }

  static void Run(const std::string& sweep) {
    const std::string name = json::parse(sweep)["name"];
    const std::string path = cluster_->dir().File(name + ".json");
    std::ofstream(path) << sweep;
    std::string out;
    ASSERT_EQ(cluster_->Cli({"submit", path}, &out), 0) << out;
    FakeWorkerOptions options;
    options.address = cluster_->grpc_address();
    options.id_prefix = name;
    options.batch = 16;
    options.fill = [](const v1::Lease& lease, v1::Completion* c) {
      json p = json::parse(lease.params_json());
      const std::string label = p["label"];
      const int seq = p["seq"];
      auto add = [&](const char* metric, double v, bool higher = false) {
        auto* m = c->add_metrics();
        m->set_name(metric);
        m->set_value(v);
        m->set_higher_is_better(higher);
      };
      if (lease.experiment() == "acc") {
        add("perplexity", Perplexity(label, seq));
      } else {
        add("median_us", MedianUs(label, seq));
      }
      add("bits_per_weight", seq == 32 ? 4.5 : 4.125);
    };
    CompleteJobsWithFakeWorkers(options, 6);
  }

  static json CliJson(const std::vector<std::string>& args) {
    std::string out;
    EXPECT_EQ(cluster_->Cli(args, &out), 0) << out;
    json j = json::parse(out, nullptr, false);
    EXPECT_FALSE(j.is_discarded()) << out;
    return j;
  }

  static Cluster* cluster_;
};

Cluster* JoinIntegrationTest::cluster_ = nullptr;

TEST_F(JoinIntegrationTest, ResultsJoinPairsRowsPrefixesSharedMetricsAndListsTheUnmatched) {
  json j = CliJson({"results", "--experiment", "acc", "--join", "lat", "--on", "label, seq", "--json"});
  EXPECT_EQ(j["experiment"], "acc");
  EXPECT_EQ(j["join"], "lat");
  EXPECT_EQ(j["on"], json({"label", "seq"}));
  EXPECT_EQ(j["metric_names"],
            json({"perplexity", "acc:bits_per_weight", "median_us", "lat:bits_per_weight"}));
  ASSERT_EQ(j["rows"].size(), 4u) << j.dump(1);
  for (const auto& r : j["rows"]) {
    const std::string label = r["on"]["label"];
    const int seq = r["on"]["seq"];
    EXPECT_EQ(r["metrics"]["perplexity"], Perplexity(label, seq));
    EXPECT_EQ(r["metrics"]["median_us"], MedianUs(label, seq));
    EXPECT_EQ(r["metrics"]["acc:bits_per_weight"], r["metrics"]["lat:bits_per_weight"]);
    EXPECT_EQ(r["state_a"], "SUCCEEDED");
    EXPECT_LT(r["job_id_a"].get<int64_t>(), r["job_id_b"].get<int64_t>());
  }
  ASSERT_EQ(j["unmatched_a"].size(), 2u);
  ASSERT_EQ(j["unmatched_b"].size(), 2u);
  for (const auto& u : j["unmatched_a"]) EXPECT_EQ(u["on"]["label"], "e2m1");
  for (const auto& u : j["unmatched_b"]) EXPECT_EQ(u["on"]["label"], "fp8");

  // The table: the pairs, then both sections of unmatched rows with their key params.
  std::string out;
  ASSERT_EQ(cluster_->Cli({"results", "--experiment", "acc", "--join", "lat", "--on", "label,seq",
                           "--sort", "median_us"}, &out), 0) << out;
  EXPECT_NE(out.find("acc joined with lat on label,seq: 4 rows"), std::string::npos) << out;
  std::vector<std::string> order;  // label/seq of each pair, in the table's order
  std::istringstream lines(out);
  for (std::string line; std::getline(lines, line);) {
    std::istringstream words(line);
    std::string label, seq;
    if (words >> label >> seq && (label == "int4" || label == "nf4")) order.push_back(label + "/" + seq);
  }
  EXPECT_EQ(order, (std::vector<std::string>{"int4/128", "int4/32", "nf4/128", "nf4/32"}))
      << "sorted by median_us\n" << out;
  EXPECT_NE(out.find("unmatched in A (acc): 2"), std::string::npos) << out;
  EXPECT_NE(out.find("unmatched in B (lat): 2"), std::string::npos) << out;
  EXPECT_NE(out.find("fp8"), std::string::npos) << out;

  // One key: the rows sharing a label pair each with each (2 x 2 per label).
  j = CliJson({"results", "--experiment", "acc", "--join", "lat", "--on", "label", "--json"});
  EXPECT_EQ(j["rows"].size(), 8u);

  // Without --join the output is the array it always was.
  j = CliJson({"results", "--experiment", "acc", "--json"});
  ASSERT_TRUE(j.is_array());
  ASSERT_EQ(j.size(), 6u);
  std::set<std::string> keys;
  for (const auto& [k, v] : j[0].items()) keys.insert(k);
  // DESIGN §10's fields, extended by the comparability fields (README "Can I trust this number?").
  EXPECT_EQ(keys, (std::set<std::string>{"job_id", "experiment", "kind", "state", "params", "metrics",
                                         "comparability_key", "environment_key", "backend", "flag"}));
}

TEST_F(JoinIntegrationTest, ParetoOverJoinedMetrics) {
  json j = CliJson({"pareto", "--experiment", "acc", "--join", "lat", "--on", "label,seq", "--x",
                    "median_us", "--y", "perplexity", "--all", "--json"});
  ASSERT_EQ(j["points"].size(), 4u) << j.dump(1);
  std::vector<std::pair<double, double>> front;
  for (const auto& p : j["points"]) {
    if (p["on_frontier"]) front.emplace_back(p["median_us"], p["perplexity"]);
    EXPECT_GT(p["job_id_b"].get<int64_t>(), 0);
    EXPECT_EQ(p["params"].size(), 2u) << "the on params: " << p["params"];
  }
  EXPECT_EQ(front, (std::vector<std::pair<double, double>>{{40, 6.4}, {50, 6.0}, {80, 5.9}}));
  EXPECT_EQ(j["unmatched_a"].size(), 2u);
  EXPECT_EQ(j["unmatched_b"].size(), 2u);

  std::string out;
  ASSERT_EQ(cluster_->Cli({"pareto", "--experiment", "acc", "--join", "lat", "--on", "label,seq",
                           "--x", "lat:bits_per_weight", "--y", "acc:perplexity"}, &out), 0) << out;
  EXPECT_NE(out.find("Pareto frontier of acc joined with lat on label,seq"), std::string::npos) << out;
  EXPECT_NE(out.find("unmatched in B (lat): 2"), std::string::npos) << out;
}

TEST_F(JoinIntegrationTest, BadJoinsExitTwoNamingTheFlag) {
  auto refused = [&](const std::vector<std::string>& args, const std::string& says) {
    std::string out;
    EXPECT_EQ(cluster_->Cli(args, &out), 2) << out;
    EXPECT_NE(out.find(says), std::string::npos) << out;
  };
  refused({"results", "--experiment", "acc", "--join", "nope", "--on", "label"}, "join: no experiment named 'nope'");
  refused({"results", "--experiment", "acc", "--join", "lat"}, "on: a join needs");
  refused({"results", "--experiment", "acc", "--on", "label"}, "join: name the experiment");
  refused({"results", "--experiment", "acc", "--join", "lat", "--on", "label", "--csv"}, "--csv");
  refused({"pareto", "--experiment", "acc", "--join", "lat", "--on", "label", "--x",
           "bits_per_weight", "--y", "perplexity"}, "x: metric 'bits_per_weight' is in both acc and lat");
  refused({"pareto", "--experiment", "acc", "--join", "lat", "--on", "label", "--x", "median_us",
           "--y", "kl"}, "y: 'kl' is not a metric of the join");
}

TEST_F(JoinIntegrationTest, GrpcAndHttpRefuseBadJoinsNamingTheField) {
  v1::QueryResultsRequest req;
  req.set_experiment("acc");
  req.set_join("lat");
  req.add_on("label");
  req.set_page_token("5");
  v1::QueryResultsResponse resp;
  grpc::Status st = cluster_->results().QueryResults(Deadline().get(), req, &resp);
  EXPECT_EQ(st.error_code(), grpc::INVALID_ARGUMENT);
  EXPECT_NE(st.error_message().find("page_token"), std::string::npos) << st.error_message();
  req.clear_page_token();
  for (int i = 0; i < 100000; ++i) req.add_on("k" + std::to_string(i));
  st = cluster_->results().QueryResults(Deadline().get(), req, &resp);
  EXPECT_EQ(st.error_code(), grpc::INVALID_ARGUMENT);
  EXPECT_EQ(st.error_message().rfind("on: at most 16", 0), 0u) << st.error_message();

  httplib::Client http("http://" + cluster_->http_address());
  auto status_and_error = [&](const std::string& path) {
    auto res = http.Get(path);
    if (!res) return std::pair{-1, std::string()};
    json body = json::parse(res->body, nullptr, false);
    return std::pair{res->status, body.is_object() && body.contains("error") ? body["error"].get<std::string>() : ""};
  };
  const std::string base = "/api/v1/experiments/acc/";
  const std::string long_name(1000, 'x');
  for (const auto& [path, says] : std::vector<std::pair<std::string, std::string>>{
           {"results?join=nope&on=label", "join:"},
           {"results?join=lat&on=", "on:"},
           {"results?join=lat&on=,", "on:"},
           {"results?join=lat&on=a,b,c,d,e,f,g,h,i,j,k,l,m,n,o,p,q,r", "on: at most 16"},
           {"results?join=lat&on=" + long_name, "on:"},
           {"results?join=" + long_name + "&on=label", "join"},
           {"results?join=lat&on=label&format=csv", "format:"},
           {"pareto?x=median_us&y=perplexity&join=&on=label", "join:"},
           {"pareto?x=median_us&y=perplexity&join=lat", "on:"},
           {"pareto?x=bits_per_weight&y=perplexity&join=lat&on=label", "x:"},
           {"pareto?x=median_us&y=" + long_name + "&join=lat&on=label", "y"}}) {
    auto [status, error] = status_and_error(base + path);
    EXPECT_EQ(status, 400) << path;
    EXPECT_EQ(error.rfind(says, 0), 0u) << path << ": " << error;
  }
  EXPECT_EQ(status_and_error("/api/v1/experiments/nope/results?join=lat&on=label").first, 404);

  auto res = http.Get(base + "pareto?x=median_us&y=perplexity&join=lat&on=label,seq&max_points=1");
  ASSERT_TRUE(res);
  ASSERT_EQ(res->status, 200) << res->body;
  json p = json::parse(res->body);
  EXPECT_EQ(p["total_points"], 4);
  EXPECT_EQ(p["points"].size(), 3u) << "max_points keeps the whole front";
  EXPECT_EQ(p["unmatched_a_total"], 2);
  EXPECT_EQ(p["unmatched_a"].size(), 1u) << "listed up to max_points";
  EXPECT_EQ(p["metric_names"].size(), 4u);
  res = http.Get(base + "results?join=lat&on=label,seq");
  ASSERT_TRUE(res);
  ASSERT_EQ(res->status, 200);
  EXPECT_EQ(json::parse(res->body), CliJson({"results", "--experiment", "acc", "--join", "lat", "--on",
                                             "label,seq", "--json"}))
      << "the API and the CLI print one shape";
}

}  // namespace
}  // namespace qlab::testing
