// End-to-end tests on real processes: a qlab-server and qlab-workers on loopback, the qlab CLI,
// and the SQLite file the server writes, read back directly.
#include <signal.h>
#include <sqlite3.h>

#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <thread>

#include <httplib.h>
#include <nlohmann/json.hpp>

#include "tests/support/cluster.h"

namespace qlab::testing {
namespace {

using namespace std::chrono_literals;

v1::Experiment GetExperiment(Cluster& c, const std::string& name) {
  v1::GetExperimentRequest req;
  req.set_name(name);
  v1::Experiment e;
  grpc::Status st = c.jobs().GetExperiment(Deadline().get(), req, &e);
  EXPECT_TRUE(st.ok()) << st.error_message();
  return e;
}

v1::Job GetJob(Cluster& c, int64_t id) {
  v1::GetJobRequest req;
  req.set_job_id(id);
  v1::Job j;
  grpc::Status st = c.jobs().GetJob(Deadline().get(), req, &j);
  return st.ok() ? j : v1::Job();
}

bool AllDone(Cluster& c, const std::string& name) {
  v1::GetExperimentRequest req;
  req.set_name(name);
  v1::Experiment e;
  if (!c.jobs().GetExperiment(Deadline(2s).get(), req, &e).ok()) return false;
  return e.total_jobs() > 0 &&
         e.succeeded_jobs() + e.failed_jobs() + e.cancelled_jobs() == e.total_jobs();
}

v1::SubmitExperimentResponse Submit(Cluster& c, const nlohmann::json& sweep) {
  v1::SubmitExperimentRequest req;
  req.set_sweep_json(sweep.dump());
  v1::SubmitExperimentResponse resp;
  grpc::Status st = c.jobs().SubmitExperiment(Deadline(60s).get(), req, &resp);
  EXPECT_TRUE(st.ok()) << st.error_message();
  return resp;
}

// Waits for the cluster's one worker to register; whether it runs every one of `kinds` (LibTorch
// executors are absent from builds without LibTorch).
bool OnlyWorkerHasKinds(Cluster& c, const std::vector<std::string>& kinds) {
  v1::ListWorkersResponse workers;
  const bool registered = WaitFor([&] {
    workers.Clear();
    return c.workers().ListWorkers(Deadline().get(), {}, &workers).ok() && workers.workers_size() == 1;
  }, 20s);
  EXPECT_TRUE(registered) << "the worker did not register";
  if (!registered) return false;
  const auto& have = workers.workers(0).kinds();
  return std::all_of(kinds.begin(), kinds.end(), [&](const std::string& k) {
    return std::find(have.begin(), have.end(), k) != have.end();
  });
}

// Reads the coordinator's SQLite file directly: per job, result rows and succeeded attempts.
struct DbCounts {
  std::map<int64_t, int> results, succeeded_attempts;
};
DbCounts ReadCounts(const std::string& db) {
  DbCounts out;
  sqlite3* h = nullptr;
  EXPECT_EQ(sqlite3_open_v2(db.c_str(), &h, SQLITE_OPEN_READONLY, nullptr), SQLITE_OK);
  auto query = [&](const char* sql, std::map<int64_t, int>& into) {
    sqlite3_stmt* s = nullptr;
    EXPECT_EQ(sqlite3_prepare_v2(h, sql, -1, &s, nullptr), SQLITE_OK) << sqlite3_errmsg(h);
    while (sqlite3_step(s) == SQLITE_ROW) into[sqlite3_column_int64(s, 0)] = sqlite3_column_int(s, 1);
    sqlite3_finalize(s);
  };
  query("SELECT job_id, COUNT(*) FROM result GROUP BY job_id", out.results);
  query("SELECT job_id, COUNT(*) FROM attempt WHERE outcome='succeeded' GROUP BY job_id",
        out.succeeded_attempts);
  sqlite3_close(h);
  return out;
}

TEST(IntegrationTest, FiveHundredJobSweepOnTwoWorkersEachJobOnce) {
  Cluster c;
  c.StartServer();
  c.StartWorker({"--slots", "2"});
  c.StartWorker({"--slots", "2"});
  // 5 datatypes x 2 group sizes x 50 seeds of small real quantization runs.
  nlohmann::json seeds = nlohmann::json::array();
  for (int s = 1; s <= 50; ++s) seeds.push_back(s);
  auto resp = Submit(c, {{"name", "five-hundred"},
                         {"kind", "quantize"},
                         {"params", {{"distribution", "student_t"}, {"nu", 5}, {"shape", {8, 256}}}},
                         {"axes",
                          {{"datatype", {"int4_asym", "int8_sym", "e2m1", "nf4", "int3_asym"}},
                           {"group_size", {32, 128}},
                           {"seed", seeds}}}});
  ASSERT_EQ(resp.job_count(), 500);
  ASSERT_TRUE(WaitFor([&] { return AllDone(c, "five-hundred"); }, 120s));
  auto e = GetExperiment(c, "five-hundred");
  EXPECT_EQ(e.succeeded_jobs(), 500);

  // Exactly one result set per job, written by exactly one attempt, in the file itself: the
  // stored rows per job equal the metrics the job reports (their number varies by datatype).
  std::string out;
  ASSERT_EQ(c.Cli({"results", "--experiment", "five-hundred", "--json"}, &out), 0) << out;
  auto rows = nlohmann::json::parse(out);
  ASSERT_EQ(rows.size(), 500u);
  std::map<int64_t, int> reported;
  for (const auto& r : rows) reported[r["job_id"].get<int64_t>()] = static_cast<int>(r["metrics"].size());
  DbCounts counts = ReadCounts(c.db_path());
  ASSERT_EQ(counts.results.size(), 500u);
  for (int64_t id = resp.first_job_id(); id < resp.first_job_id() + 500; ++id) {
    EXPECT_GE(reported[id], 4) << "job " << id;
    EXPECT_EQ(counts.results[id], reported[id]) << "job " << id;
    EXPECT_EQ(counts.succeeded_attempts[id], 1) << "job " << id;
  }
  // Both workers took part.
  std::map<std::string, int> by_worker;
  for (int64_t id = resp.first_job_id(); id < resp.first_job_id() + 500; id += 25) {
    by_worker[GetJob(c, id).worker_id()]++;
  }
  EXPECT_EQ(by_worker.size(), 2u);

  // The CLI's JSON output has the documented shape.
  for (const char* key : {"job_id", "experiment", "kind", "state", "params", "metrics"}) {
    EXPECT_TRUE(rows[0].contains(key)) << key;
  }
  for (const char* metric : {"mse", "sqnr_db", "max_abs_err", "bits_per_weight"}) {
    EXPECT_TRUE(rows[0]["metrics"].contains(metric)) << metric;
  }
}

TEST(IntegrationTest, KilledWorkerLeaseExpiresJobRunsElsewhereLateResultRejected) {
  Cluster c({"--lease-ttl-ms", "1500"});
  c.StartServer();
  size_t a = c.StartWorker({"--worker-id", "doomed"});
  auto resp = Submit(c, {{"name", "fault"}, {"kind", "noop"}, {"params", {{"duration_ms", 2500}}}});
  const int64_t job = resp.first_job_id();
  ASSERT_TRUE(WaitFor([&] { return GetJob(c, job).state() == v1::JOB_STATE_RUNNING; }, 20s));
  v1::Job running = GetJob(c, job);
  ASSERT_EQ(running.worker_id(), "doomed");
  ASSERT_EQ(running.attempt_history_size(), 1);
  const int64_t doomed_token = running.attempt_history(0).fencing_token();

  c.worker(a).Kill();  // SIGKILL mid-job
  c.StartWorker({"--worker-id", "survivor"});
  ASSERT_TRUE(WaitFor([&] { return GetJob(c, job).state() == v1::JOB_STATE_SUCCEEDED; }, 30s));
  v1::Job done = GetJob(c, job);
  EXPECT_EQ(done.worker_id(), "survivor");
  EXPECT_EQ(done.attempts(), 1);  // a lost worker is the infrastructure's failure, not the job's
  ASSERT_EQ(done.attempt_history_size(), 2);
  EXPECT_EQ(done.attempt_history(0).outcome(), "expired");
  EXPECT_EQ(done.attempt_history(0).failure_class(), "infrastructure");
  EXPECT_EQ(done.attempt_history(1).outcome(), "succeeded");

  // The dead worker's late Complete, as it would have sent it, is refused.
  v1::CompleteRequest late;
  late.set_worker_id("doomed");
  auto* comp = late.add_completions();
  comp->set_job_id(job);
  comp->set_fencing_token(doomed_token);
  comp->set_outcome(v1::Completion::OUTCOME_SUCCEEDED);
  auto* m = comp->add_metrics();
  m->set_name("duration_ms");
  m->set_value(-1);
  v1::CompleteResponse ack;
  grpc::Status st = c.workers().Complete(Deadline().get(), late, &ack);
  ASSERT_TRUE(st.ok()) << st.error_message();
  ASSERT_EQ(ack.acks_size(), 1);
  EXPECT_FALSE(ack.acks(0).accepted());
  EXPECT_NE(ack.acks(0).reason().find("stale fencing token"), std::string::npos);
  done = GetJob(c, job);
  ASSERT_EQ(done.metrics_size(), 1);
  EXPECT_EQ(done.metrics(0).value(), 2500) << "the survivor's result stands";
}

TEST(IntegrationTest, ServerKilledAndRestartedLosesNoJobAndRunsNoneTwice) {
  Cluster c({"--lease-ttl-ms", "3000"});
  c.StartServer();
  c.StartWorker({"--slots", "3"});
  c.StartWorker({"--slots", "3"});
  nlohmann::json seq = nlohmann::json::array();
  for (int i = 0; i < 300; ++i) seq.push_back(i);
  auto resp = Submit(c, {{"name", "restart"}, {"kind", "noop"},
                         {"params", {{"duration_ms", 30}}}, {"axes", {{"seq", seq}}}});
  ASSERT_EQ(resp.job_count(), 300);
  // Kill while jobs are both finished, running and pending.
  ASSERT_TRUE(WaitFor([&] { return GetExperiment(c, "restart").succeeded_jobs() >= 60; }, 60s));
  c.KillServer();
  std::this_thread::sleep_for(500ms);  // workers keep running jobs and retrying meanwhile
  c.StartServer();
  ASSERT_TRUE(WaitFor([&] { return AllDone(c, "restart"); }, 120s));
  auto e = GetExperiment(c, "restart");
  EXPECT_EQ(e.succeeded_jobs(), 300);
  DbCounts counts = ReadCounts(c.db_path());
  for (int64_t id = resp.first_job_id(); id < resp.first_job_id() + 300; ++id) {
    EXPECT_EQ(counts.results[id], 1) << "job " << id;
    EXPECT_EQ(counts.succeeded_attempts[id], 1) << "job " << id;
  }
}

TEST(IntegrationTest, WorkerSigtermGivesBackItsLease) {
  Cluster c;
  c.StartServer();
  size_t a = c.StartWorker({"--grace-ms", "200"});
  auto resp = Submit(c, {{"name", "graceful"}, {"kind", "noop"}, {"params", {{"duration_ms", 60000}}}});
  const int64_t job = resp.first_job_id();
  ASSERT_TRUE(WaitFor([&] { return GetJob(c, job).state() == v1::JOB_STATE_RUNNING; }, 20s));
  c.worker(a).Signal(SIGTERM);
  EXPECT_EQ(c.worker(a).Wait(20s), 0);
  v1::Job j = GetJob(c, job);
  EXPECT_EQ(j.state(), v1::JOB_STATE_PENDING) << "given back at once, not after the lease TTL";
  EXPECT_EQ(j.attempts(), 0);
  ASSERT_EQ(j.attempt_history_size(), 1);
  EXPECT_EQ(j.attempt_history(0).outcome(), "released");
}

TEST(IntegrationTest, ServerSigtermShutsDownCleanlyAndKeepsEverything) {
  Cluster c;
  c.StartServer();
  c.StartWorker();
  auto resp = Submit(c, {{"name", "before-stop"}, {"kind", "noop"}, {"axes", {{"seq", {1, 2, 3}}}}});
  ASSERT_TRUE(WaitFor([&] { return AllDone(c, "before-stop"); }, 20s));
  Submit(c, {{"name", "queued"}, {"kind", "noop"}, {"params", {{"duration_ms", 60000}}}});
  c.server().Signal(SIGTERM);
  EXPECT_EQ(c.server().Wait(20s), 0);
  c.StartServer();
  EXPECT_EQ(GetExperiment(c, "before-stop").succeeded_jobs(), 3);
  EXPECT_EQ(GetExperiment(c, "queued").total_jobs(), 1);
}

TEST(IntegrationTest, CancelRunningJobStopsItOnTheWorker) {
  Cluster c({"--lease-ttl-ms", "3000"});  // heartbeats every second tell the worker soon
  c.StartServer();
  c.StartWorker();
  auto resp = Submit(c, {{"name", "cancel-me"}, {"kind", "noop"}, {"params", {{"duration_ms", 60000}}}});
  const int64_t job = resp.first_job_id();
  ASSERT_TRUE(WaitFor([&] { return GetJob(c, job).state() == v1::JOB_STATE_RUNNING; }, 20s));
  std::string out;
  ASSERT_EQ(c.Cli({"cancel", std::to_string(job)}, &out), 0) << out;
  EXPECT_EQ(GetJob(c, job).state(), v1::JOB_STATE_CANCELLED);
  // The worker is free again: a new job runs.
  auto next = Submit(c, {{"name", "after-cancel"}, {"kind", "noop"}, {"params", {{"duration_ms", 0}}}});
  EXPECT_TRUE(WaitFor([&] { return AllDone(c, "after-cancel"); }, 20s));
}

// `qlab workers drain`: the worker finishes the job it runs, is leased nothing more while
// drained, and takes the waiting jobs once put back to work.
TEST(IntegrationTest, DrainedWorkerFinishesItsJobAndTakesNoMore) {
  Cluster c;
  c.StartServer();
  c.StartWorker({"--worker-id", "w1", "--slots", "1"});
  auto sub = Submit(c, {{"name", "drain"}, {"kind", "noop"},
                        {"axes", {{"duration_ms", {1500, 0, 0, 0}}}}});
  const int64_t first = sub.first_job_id();
  ASSERT_TRUE(WaitFor([&] { return GetJob(c, first).state() == v1::JOB_STATE_RUNNING; }, 20s));
  std::string out;
  ASSERT_EQ(c.Cli({"workers", "drain", "w1"}, &out), 0) << out;
  EXPECT_NE(out.find("1 running job(s) to finish"), std::string::npos) << out;
  ASSERT_TRUE(WaitFor([&] { return GetJob(c, first).state() == v1::JOB_STATE_SUCCEEDED; }, 20s));
  std::this_thread::sleep_for(1s);  // time in which an undrained worker would take the next job
  for (int64_t id = first + 1; id < first + 4; ++id) {
    v1::Job j = GetJob(c, id);
    EXPECT_EQ(j.state(), v1::JOB_STATE_PENDING) << id;
    EXPECT_NE(j.pending_reason().find("busy"), std::string::npos) << j.pending_reason();
  }
  ASSERT_EQ(c.Cli({"workers"}, &out), 0);
  EXPECT_NE(out.find("live, draining"), std::string::npos) << out;
  ASSERT_EQ(c.Cli({"workers", "drain", "w1", "--undo"}, &out), 0) << out;
  EXPECT_TRUE(WaitFor([&] { return AllDone(c, "drain"); }, 20s));
  EXPECT_EQ(GetExperiment(c, "drain").succeeded_jobs(), 4);
  EXPECT_EQ(c.Cli({"workers", "drain", "nobody"}, &out), 2);
  EXPECT_NE(out.find("no worker 'nobody'"), std::string::npos) << out;
}

TEST(IntegrationTest, PendingJobSaysWhyItWaits) {
  Cluster c;
  c.StartServer();
  c.StartWorker();
  auto resp = Submit(c, {{"name", "needs-gpu"}, {"kind", "noop"},
                         {"requirements", {{"device_class", "cuda"}}}});
  ASSERT_TRUE(WaitFor([&] {
    return GetJob(c, resp.first_job_id()).pending_reason() == "no live worker has device class cuda";
  }, 20s)) << GetJob(c, resp.first_job_id()).pending_reason();
  std::string out;
  EXPECT_EQ(c.Cli({"jobs", "--experiment", "needs-gpu"}, &out), 0);
  EXPECT_NE(out.find("no live worker has device class cuda"), std::string::npos) << out;
}

TEST(IntegrationTest, CliBadInputExitsTwoAndStoresNothing) {
  Cluster c;
  c.StartServer();
  auto file = [&](const std::string& name, const std::string& text) {
    std::string path = c.dir().File(name);
    std::ofstream(path) << text;
    return path;
  };
  std::string out;
  EXPECT_EQ(c.Cli({"submit", file("bad.yaml", "name: x\nkind: [quantize\n")}, &out), 2);
  EXPECT_NE(out.find("not valid YAML"), std::string::npos) << out;
  EXPECT_EQ(c.Cli({"submit", file("dt.yaml", "name: x\nkind: quantize\nparams: {distribution: gaussian, "
                                             "shape: [4, 128], seed: 1}\naxes: {datatype: [int4_asym, fp5_magic]}\n")},
                  &out), 2);
  EXPECT_NE(out.find("fp5_magic"), std::string::npos) << out;
  EXPECT_EQ(c.Cli({"submit", file("kind.yaml", "name: x\nkind: bake\n")}, &out), 2);
  EXPECT_NE(out.find("kind 'bake' is unknown"), std::string::npos) << out;
  EXPECT_EQ(c.Cli({"submit", file("gs.yaml", "name: x\nkind: quantize\nparams: {distribution: gaussian, "
                                             "shape: [4, 128], seed: 1, datatype: e2m1, group_size: -1}\n")},
                  &out), 2);
  EXPECT_NE(out.find("group_size"), std::string::npos) << out;
  EXPECT_EQ(c.Cli({"submit", file("empty.yaml", "name: x\nkind: noop\naxes: {seq: []}\n")}, &out), 2);
  EXPECT_NE(out.find("axes.seq is empty"), std::string::npos) << out;
  EXPECT_EQ(c.Cli({"show", "424242"}, &out), 2);
  EXPECT_NE(out.find("no job with id 424242"), std::string::npos) << out;
  EXPECT_EQ(c.Cli({"results", "--experiment", "nope"}, &out), 2);
  EXPECT_EQ(c.Cli({"submit", "/no/such/file.yaml"}, &out), 2);

  v1::ListExperimentsResponse list;
  ASSERT_TRUE(c.jobs().ListExperiments(Deadline().get(), {}, &list).ok());
  EXPECT_EQ(list.experiments_size(), 0) << "nothing half-written";
}

TEST(IntegrationTest, HugeSweepIsRefusedWhole) {
  Cluster c({"--max-sweep-jobs", "1000"});
  c.StartServer();
  nlohmann::json a = nlohmann::json::array(), b = nlohmann::json::array();
  for (int i = 0; i < 40; ++i) a.push_back(i), b.push_back(i);
  v1::SubmitExperimentRequest req;
  req.set_sweep_json(nlohmann::json({{"name", "huge"}, {"kind", "noop"},
                                     {"axes", {{"seq", a}, {"label", b}}}}).dump());
  v1::SubmitExperimentResponse resp;
  grpc::Status st = c.jobs().SubmitExperiment(Deadline().get(), req, &resp);
  EXPECT_EQ(st.error_code(), grpc::INVALID_ARGUMENT);
  EXPECT_NE(st.error_message().find("more than 1000"), std::string::npos);
}

TEST(IntegrationTest, CliLinksNeitherLibTorchNorCuda) {
  std::string out;
  ASSERT_EQ(RunCommand({"/usr/bin/ldd", QLAB_CLI_BIN}, &out), 0);
  EXPECT_EQ(out.find("libtorch"), std::string::npos) << out;
  EXPECT_EQ(out.find("libc10"), std::string::npos) << out;
  EXPECT_EQ(out.find("libcuda"), std::string::npos) << out;
  ASSERT_EQ(RunCommand({QLAB_CLI_BIN, "--help"}, &out), 0);
  EXPECT_NE(out.find("submit"), std::string::npos);
}

TEST(IntegrationTest, LatencySweepIsStoredAndExportedAsADataset) {
  Cluster c;
  c.StartServer();
  c.StartWorker();
  if (!OnlyWorkerHasKinds(c, {"latency"})) {
    GTEST_SKIP() << "this build's worker has no LibTorch latency executor";
  }
  // Six architectures in two jobs, with a protocol short enough for a test.
  auto resp = Submit(c, {{"name", "lat"}, {"kind", "latency"},
                         {"params", {{"space", "nb201"}, {"arch_range", {0, 6}}, {"archs_per_job", 3},
                                     {"warmup_runs", 2}, {"warmup_min_s", 0.0}, {"min_runs", 5},
                                     {"min_time_s", 0.0}, {"max_runs", 20}}}});
  ASSERT_EQ(resp.job_count(), 2);
  ASSERT_TRUE(WaitFor([&] { return AllDone(c, "lat"); }, 120s));
  auto e = GetExperiment(c, "lat");
  ASSERT_EQ(e.succeeded_jobs(), 2) << GetJob(c, resp.first_job_id()).last_error();

  std::string csv;
  ASSERT_EQ(c.Cli({"dataset", "export", "--space", "nb201", "--device", "cpu", "--format", "csv"}, &csv), 0)
      << csv;
  std::vector<std::string> lines;
  std::stringstream in(csv);
  for (std::string line; std::getline(in, line);) {
    if (!line.empty() && line != "6 rows") lines.push_back(line);
  }
  ASSERT_EQ(lines.size(), 7u) << csv;
  EXPECT_EQ(lines[0].rfind("arch_index,arch,arch_key,device,batch,median_us,p10_us,p90_us", 0), 0u);
  // Row 1 is benchmark index 0 with its NAS-Bench-201 string.
  EXPECT_EQ(lines[1].rfind("0,|avg_pool_3x3~0|+|nor_conv_1x1~0|skip_connect~1|+|nor_conv_1x1~0|"
                           "skip_connect~1|skip_connect~2|,nb201:0,cpu:", 0), 0u) << lines[1];
  std::string json;
  ASSERT_EQ(c.Cli({"dataset", "export", "--device", "cpu", "--format", "json", "--samples"}, &json), 0);
  // stdout (the JSON) and stderr (the row count) share the captured output.
  auto rows = nlohmann::json::parse(json.substr(json.find('['), json.rfind(']') - json.find('[') + 1));
  ASSERT_EQ(rows.size(), 6u);
  EXPECT_GT(rows[0]["median_us"].get<double>(), 0);
  EXPECT_EQ(rows[0]["samples_us"].size(), rows[0]["n"].get<size_t>());
}

// Latency measured on a real worker at two batch sizes, then predictors trained on it by the
// same worker: from the coordinator's dataset, from an exported file, and with and without
// transfer from the other batch size.
TEST(IntegrationTest, PredictorTrainsOnTheMeasuredLatencyDataset) {
  Cluster c;
  c.StartServer();
  c.StartWorker();
  if (!OnlyWorkerHasKinds(c, {"latency", "predictor"})) {
    GTEST_SKIP() << "this build's worker has no LibTorch latency and predictor executors";
  }
  auto lat = Submit(c, {{"name", "lat2"}, {"kind", "latency"},
                        {"params", {{"space", "nb201"}, {"arch_range", {0, 16}}, {"archs_per_job", 8},
                                    {"warmup_runs", 1}, {"warmup_min_s", 0.0}, {"min_runs", 3},
                                    {"min_time_s", 0.0}, {"max_runs", 10}}},
                        {"axes", {{"batch", {1, 2}}}}});
  ASSERT_EQ(lat.job_count(), 4);
  ASSERT_TRUE(WaitFor([&] { return AllDone(c, "lat2"); }, 180s));
  ASSERT_EQ(GetExperiment(c, "lat2").succeeded_jobs(), 4) << GetJob(c, lat.first_job_id()).last_error();

  const std::string file = c.dir().File("lat2.csv");
  std::string csv;
  ASSERT_EQ(c.Cli({"dataset", "export", "--experiment", "lat2"}, &csv), 0) << csv;
  {
    // stderr's "N rows" line shares the captured output; the file gets the CSV only.
    std::stringstream in(csv);
    std::ofstream to(file);
    for (std::string line; std::getline(in, line);) {
      if (line != "32 rows") to << line << "\n";
    }
  }

  const nlohmann::json params = {{"space", "nb201"}, {"target_device", "cpu:*"},
                                 {"target_samples", 4}, {"epochs", 5}, {"finetune_steps", 20},
                                 {"hidden", 16}, {"experiment", "lat2"},
                                 {"source_batches", {2}}};
  auto pred = Submit(c, {{"name", "pred"}, {"kind", "predictor"}, {"params", params},
                         {"axes", {{"source_devices", {nlohmann::json::array(), "cpu:*"}}}}});
  nlohmann::json from_file = params;
  from_file.erase("experiment");
  from_file["dataset_file"] = file;
  from_file["source_devices"] = "cpu:*";
  auto pred_file = Submit(c, {{"name", "pred-file"}, {"kind", "predictor"}, {"params", from_file}});
  ASSERT_EQ(pred.job_count(), 2);
  ASSERT_TRUE(WaitFor([&] { return AllDone(c, "pred") && AllDone(c, "pred-file"); }, 120s));
  ASSERT_EQ(GetExperiment(c, "pred").succeeded_jobs(), 2)
      << GetJob(c, pred.first_job_id()).ShortDebugString() << GetJob(c, pred.first_job_id() + 1).last_error();
  ASSERT_EQ(GetExperiment(c, "pred-file").succeeded_jobs(), 1)
      << GetJob(c, pred_file.first_job_id()).last_error();

  std::string out;
  ASSERT_EQ(c.Cli({"results", "--experiment", "pred", "--json"}, &out), 0) << out;
  auto rows = nlohmann::json::parse(out);
  ASSERT_EQ(rows.size(), 2u);
  std::map<double, nlohmann::json> by_sources;  // source_domains -> metrics
  for (const auto& r : rows) {
    const auto& m = r["metrics"];
    EXPECT_EQ(m["target_samples"], 4);
    EXPECT_EQ(m["test_samples"], 12);
    for (const char* name : {"spearman_rho", "kendall_tau", "flops_spearman_rho"}) {
      EXPECT_GE(m[name].get<double>(), -1.0) << name;
      EXPECT_LE(m[name].get<double>(), 1.0) << name;
    }
    EXPECT_GT(m["mape"].get<double>(), 0.0);
    by_sources[m["source_domains"].get<double>()] = m;
  }
  ASSERT_EQ(by_sources.size(), 2u);
  EXPECT_EQ(by_sources[1.0]["source_samples"], 16);  // the batch-2 domain, never the target

  // The same data read from the exported file trains the same predictor.
  ASSERT_EQ(c.Cli({"results", "--experiment", "pred-file", "--json"}, &out), 0) << out;
  const auto file_metrics = nlohmann::json::parse(out)[0]["metrics"];
  for (const char* name : {"spearman_rho", "kendall_tau", "mape", "acc_10pct"}) {
    EXPECT_EQ(file_metrics[name], by_sources[1.0][name]) << name;
  }

  // Each job stored its trained model once.
  sqlite3* h = nullptr;
  ASSERT_EQ(sqlite3_open_v2(c.db_path().c_str(), &h, SQLITE_OPEN_READONLY, nullptr), SQLITE_OK);
  sqlite3_stmt* s = nullptr;
  ASSERT_EQ(sqlite3_prepare_v2(h, "SELECT name, media_type, content FROM artifact WHERE job_id = ?",
                               -1, &s, nullptr), SQLITE_OK) << sqlite3_errmsg(h);
  sqlite3_bind_int64(s, 1, pred.first_job_id());
  int artifacts = 0;
  while (sqlite3_step(s) == SQLITE_ROW) {
    ++artifacts;
    EXPECT_STREQ(reinterpret_cast<const char*>(sqlite3_column_text(s, 0)), "predictor.json");
    auto model = nlohmann::json::parse(reinterpret_cast<const char*>(sqlite3_column_text(s, 2)));
    EXPECT_EQ(model["format"], "qlab-latency-predictor/1");
  }
  sqlite3_finalize(s);
  sqlite3_close(h);
  EXPECT_EQ(artifacts, 1);

  // ... and gives it back through the CLI and the HTTP API.
  const std::string model_file = c.dir().File("model.json");
  ASSERT_EQ(c.Cli({"artifacts", std::to_string(pred.first_job_id()), "--get", "predictor.json",
                   "-o", model_file}, &out), 0) << out;
  std::ifstream model_in(model_file);
  const auto model = nlohmann::json::parse(model_in);
  EXPECT_EQ(model["format"], "qlab-latency-predictor/1");
  ASSERT_EQ(c.Cli({"artifacts", std::to_string(pred.first_job_id())}, &out), 0) << out;
  EXPECT_NE(out.find("predictor.json  application/json"), std::string::npos) << out;
  EXPECT_EQ(c.Cli({"artifacts", std::to_string(pred.first_job_id()), "--get", "nope"}, &out), 2);
  httplib::Client http("http://" + c.http_address());
  auto got = http.Get("/api/v1/jobs/" + std::to_string(pred.first_job_id()) +
                      "/artifacts/predictor.json");
  ASSERT_TRUE(got);
  EXPECT_EQ(got->status, 200);
  EXPECT_EQ(got->get_header_value("Content-Type"), "application/json");
  EXPECT_EQ(nlohmann::json::parse(got->body), model);
  got = http.Get("/api/v1/jobs/" + std::to_string(pred.first_job_id()) + "/artifacts");
  ASSERT_TRUE(got);
  EXPECT_EQ(nlohmann::json::parse(got->body)[0]["name"], "predictor.json");

  // A misspelled key is refused at submit with the field named, and nothing is stored.
  nlohmann::json bad = params;
  bad["target_smaples"] = 3;
  v1::SubmitExperimentRequest req;
  req.set_sweep_json(nlohmann::json({{"name", "pred-bad"}, {"kind", "predictor"}, {"params", bad}}).dump());
  v1::SubmitExperimentResponse resp;
  grpc::Status st = c.jobs().SubmitExperiment(Deadline().get(), req, &resp);
  EXPECT_EQ(st.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_NE(st.error_message().find("target_samples"), std::string::npos) << st.error_message();
}

TEST(IntegrationTest, EveryShippedSweepFileValidates) {
  Cluster c;
  c.StartServer();
  int files = 0;
  for (const auto& entry : std::filesystem::directory_iterator(QLAB_SOURCE_DIR "/experiments")) {
    if (entry.path().extension() != ".yaml") continue;
    ++files;
    std::string out;
    EXPECT_EQ(c.Cli({"submit", entry.path().string(), "--dry-run"}, &out), 0)
        << entry.path() << ": " << out;
    EXPECT_NE(out.find("dry run"), std::string::npos) << out;
  }
  EXPECT_GE(files, 5);
}

TEST(IntegrationTest, NasArchRoundTripThroughCli) {
  std::string out;
  ASSERT_EQ(RunCommand({QLAB_CLI_BIN, "nas", "arch", "--space", "nb201", "--index", "1"}, &out), 0);
  EXPECT_EQ(out, "|nor_conv_3x3~0|+|nor_conv_3x3~0|avg_pool_3x3~1|+|skip_connect~0|nor_conv_3x3~1|skip_connect~2|\n");
  out.pop_back();
  std::string index;
  ASSERT_EQ(RunCommand({QLAB_CLI_BIN, "nas", "arch", "--space", "nb201", "--arch", out}, &index), 0);
  EXPECT_EQ(index, "1\n");
  EXPECT_EQ(RunCommand({QLAB_CLI_BIN, "nas", "arch", "--arch", "|bogus~0|"}, &out), 2);
}

}  // namespace
}  // namespace qlab::testing
