// Studies end to end on real processes: a qlab-server and a qlab-worker on loopback, a study
// submitted through the qlab CLI, the coordinator SIGKILLed mid-study and restarted on the same
// file, and the SQLite file read back directly.
#include <signal.h>
#include <sqlite3.h>

#include <gtest/gtest.h>

#include <fstream>
#include <functional>
#include <map>
#include <optional>
#include <set>
#include <thread>

#include <nlohmann/json.hpp>

#include "tests/support/cluster.h"

namespace qlab::testing {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;

// The study's report, or nothing while the server does not answer (a restart).
std::optional<json> Study(Cluster& c, const std::string& name) {
  v1::GetStudyRequest req;
  req.set_experiment(name);
  v1::GetStudyResponse resp;
  grpc::Status st = c.jobs().GetStudy(Deadline(5s).get(), req, &resp);
  if (!st.ok()) return std::nullopt;
  return json::parse(resp.study_json());
}

// Polls the study's report until `until` holds (a restarting server answers nothing meanwhile).
bool WaitForStudy(Cluster& c, const std::string& name, const std::function<bool(const json&)>& until,
                  std::chrono::milliseconds timeout) {
  return WaitFor([&] {
    const auto s = Study(c, name);
    return s.has_value() && until(*s);
  }, timeout);
}

bool Done(const json& report) { return report["done"].get<bool>(); }

std::function<bool(const json&)> SucceededAtLeast(int n) {
  return [n](const json& report) { return report["counts"]["succeeded"].get<int>() >= n; };
}

struct StoredTrials {
  std::map<int64_t, int64_t> job_of_trial;  // trial -> job
  std::set<std::string> assignments;
  int64_t jobs = 0, succeeded = 0, result_rows_of_trial_jobs = 0;
};

StoredTrials ReadTrials(const std::string& db, const std::string& experiment) {
  StoredTrials out;
  sqlite3* h = nullptr;
  EXPECT_EQ(sqlite3_open_v2(db.c_str(), &h, SQLITE_OPEN_READONLY, nullptr), SQLITE_OK);
  auto each = [&](const std::string& sql, const std::function<void(sqlite3_stmt*)>& row) {
    sqlite3_stmt* s = nullptr;
    EXPECT_EQ(sqlite3_prepare_v2(h, sql.c_str(), -1, &s, nullptr), SQLITE_OK) << sqlite3_errmsg(h);
    sqlite3_bind_text(s, 1, experiment.c_str(), -1, SQLITE_TRANSIENT);
    while (sqlite3_step(s) == SQLITE_ROW) row(s);
    sqlite3_finalize(s);
  };
  each("SELECT t.trial, t.job_id, t.assignment_json FROM study_trial t JOIN experiment e ON "
       "e.id = t.experiment_id WHERE e.name = ?",
       [&](sqlite3_stmt* s) {
         const int64_t trial = sqlite3_column_int64(s, 0);
         EXPECT_EQ(out.job_of_trial.count(trial), 0u) << "trial " << trial << " stored twice";
         out.job_of_trial[trial] = sqlite3_column_int64(s, 1);
         out.assignments.insert(reinterpret_cast<const char*>(sqlite3_column_text(s, 2)));
       });
  each("SELECT COUNT(*), SUM(j.state = 4) FROM job j JOIN experiment e ON e.id = j.experiment_id "
       "WHERE e.name = ?",
       [&](sqlite3_stmt* s) {
         out.jobs = sqlite3_column_int64(s, 0);
         out.succeeded = sqlite3_column_int64(s, 1);
       });
  each("SELECT COUNT(*) FROM result r JOIN job j ON j.id = r.job_id JOIN experiment e ON "
       "e.id = j.experiment_id WHERE e.name = ? AND r.name = 'duration_ms'",
       [&](sqlite3_stmt* s) { out.result_rows_of_trial_jobs = sqlite3_column_int64(s, 0); });
  sqlite3_close(h);
  return out;
}

// A study over noop jobs: each trial sleeps its duration_ms and reports it; one objective.
const char* const kNoopStudy = R"(name: restart-study
kind: noop
search:
  sampler: nsga2
  trials: 24
  parallel: 3
  seed: 7
  population: 6
  objectives: [{metric: duration_ms, direction: min}]
  space:
    duration_ms: {choices: [300, 400, 500]}
    seq: {choices: [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]}
)";

// Killing the coordinator mid-study and restarting it completes the study with exactly the
// requested trials: none repeated (by index or assignment), none lost, each ended once.
TEST(StudyIntegrationTest, CoordinatorKilledMidStudyEndsWithExactlyTheBudget) {
  Cluster c({"--lease-ttl-ms", "2000"});
  c.StartServer();
  c.StartWorker({"--slots", "3"});
  const std::string file = c.dir().File("study.yaml");
  std::ofstream(file) << kNoopStudy;
  std::string out;
  ASSERT_EQ(c.Cli({"submit", file}, &out), 0) << out;
  EXPECT_NE(out.find("24 trials"), std::string::npos) << out;

  ASSERT_TRUE(WaitForStudy(c, "restart-study", SucceededAtLeast(6), 60s));
  const auto at_kill = Study(c, "restart-study");
  ASSERT_TRUE(at_kill.has_value());
  EXPECT_FALSE((*at_kill)["done"].get<bool>()) << "the study ended before the kill";
  c.server().Kill();
  c.StartServer();
  ASSERT_TRUE(WaitForStudy(c, "restart-study", Done, 120s));

  auto report = Study(c, "restart-study");
  ASSERT_TRUE(report.has_value());
  EXPECT_EQ((*report)["counts"]["proposed"], 24);
  EXPECT_EQ((*report)["counts"]["succeeded"], 24);
  EXPECT_EQ((*report)["counts"]["in_flight"], 0);
  // The front is the trials at the smallest duration, and the hypervolume counts them.
  for (const json& trial : (*report)["front"]) {
    EXPECT_EQ((*report)["trials"][trial.get<size_t>()]["values"][0], 300) << report->dump();
  }
  EXPECT_GT((*report)["hypervolume"].get<double>(), 0);

  const StoredTrials stored = ReadTrials(c.db_path(), "restart-study");
  EXPECT_EQ(stored.job_of_trial.size(), 24u);
  EXPECT_EQ(stored.job_of_trial.begin()->first, 0);
  EXPECT_EQ(stored.job_of_trial.rbegin()->first, 23);
  EXPECT_EQ(stored.assignments.size(), 24u) << "an assignment was proposed twice";
  EXPECT_EQ(stored.jobs, 24);
  EXPECT_EQ(stored.succeeded, 24);
  EXPECT_EQ(stored.result_rows_of_trial_jobs, 24) << "a trial's result was written twice";

  ASSERT_EQ(c.Cli({"study", "restart-study"}, &out), 0) << out;
  EXPECT_NE(out.find("24/24 trials proposed, 24 succeeded, 0 failed, 0 in flight, done"),
            std::string::npos) << out;
  EXPECT_NE(out.find("hypervolume"), std::string::npos) << out;
}

// Cancelling a study's experiment stops it: the running trials are cancelled, nothing more is
// proposed, and the study is done with fewer trials than its budget.
TEST(StudyIntegrationTest, CancellingTheExperimentStopsTheStudy) {
  Cluster c;
  c.StartServer();
  c.StartWorker({"--slots", "2"});
  const std::string file = c.dir().File("long.yaml");
  std::ofstream(file) << R"(name: long-study
kind: noop
search:
  sampler: random
  trials: 500
  parallel: 2
  objectives: [{metric: duration_ms}]
  space:
    duration_ms: {choices: [400, 500]}
    seq: {choices: [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19]}
)";
  std::string out;
  ASSERT_EQ(c.Cli({"submit", file}, &out), 0) << out;
  ASSERT_TRUE(WaitForStudy(c, "long-study", SucceededAtLeast(2), 60s));
  ASSERT_EQ(c.Cli({"cancel", "--experiment", "long-study"}, &out), 0) << out;
  ASSERT_TRUE(WaitForStudy(c, "long-study", Done, 30s));
  auto report = Study(c, "long-study");
  ASSERT_TRUE(report.has_value());
  const int proposed = (*report)["counts"]["proposed"].get<int>();
  EXPECT_LT(proposed, 20) << report->dump();
  EXPECT_EQ((*report)["counts"]["in_flight"], 0);
  // Nothing is proposed after the study is done.
  std::this_thread::sleep_for(1500ms);
  EXPECT_EQ((*Study(c, "long-study"))["counts"]["proposed"].get<int>(), proposed);
}

// Failed trials are recorded, count against the budget, and the study still ends; a study's
// search block is checked at submit, naming the field.
TEST(StudyIntegrationTest, FailedTrialsCountAndBadSearchBlocksAreRefused) {
  Cluster c;
  c.StartServer();
  c.StartWorker({"--slots", "2"});
  const std::string file = c.dir().File("fail.yaml");
  std::ofstream(file) << R"(name: failing-study
kind: noop
search:
  sampler: random
  trials: 6
  parallel: 2
  objectives: [{metric: duration_ms}]
  space:
    fail: {choices: [true, false]}
    seq: {choices: [1, 2, 3, 4]}
)";
  std::string out;
  ASSERT_EQ(c.Cli({"submit", file, "--wait", "--quiet"}, &out), 0) << out;
  auto report = Study(c, "failing-study");
  ASSERT_TRUE(report.has_value());
  EXPECT_EQ((*report)["counts"]["proposed"], 6);
  const int failed = (*report)["counts"]["failed"].get<int>();
  EXPECT_EQ(failed + (*report)["counts"]["succeeded"].get<int>(), 6);
  for (const json& t : (*report)["trials"]) {
    EXPECT_EQ(t["state"] == "FAILED", t["assignment"]["fail"] == true) << t.dump();
  }

  struct Bad {
    const char* search;
    const char* needle;
  };
  const Bad bad[] = {
      {"trials: 0\n  objectives: [{metric: m}]\n  space: {seq: {choices: [1]}}", "search.trials"},
      {"trials: 5\n  objectives: []\n  space: {seq: {choices: [1]}}", "search.objectives"},
      {"trials: 5\n  objectives: [{metric: m, direction: up}]\n  space: {seq: {choices: [1]}}",
       "search.objectives[0].direction"},
      {"trials: 5\n  objectives: [{metric: m}]\n  space: {duration_ms: {choices: [-5]}}",
       "search.space.duration_ms.choices[0]"},
      {"trials: 5\n  objectives: [{metric: m}]\n  space: {seq: {choices: [1, 1]}}",
       "search.space.seq.choices[1]"},
      {"trials: 5\n  objectives: [{metric: m}]\n  space: {seq: {per: tensor, choices: [1]}}",
       "search.space.seq.per"},
      {"trials: 5\n  sampler: grid\n  objectives: [{metric: m}]\n  space: {seq: {choices: [1]}}",
       "search.sampler"},
  };
  for (const Bad& b : bad) {
    std::ofstream(file) << "name: bad\nkind: noop\nsearch:\n  " << b.search << "\n";
    EXPECT_NE(c.Cli({"submit", file}, &out), 0) << b.search;
    EXPECT_NE(out.find(b.needle), std::string::npos) << b.search << "\n" << out;
  }
}

}  // namespace
}  // namespace qlab::testing
