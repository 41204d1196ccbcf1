// "Can I trust this number?" end to end, on a real coordinator and real worker daemons:
// resubmitted sweeps run only what they lack; figures from two environments are grouped in a
// Pareto front and refused in a join; a job for a datatype no device runs waits with that
// reason; a drift canary made to fail by loading the CPU quarantines the device and flags the
// timing results measured since its last good canary.
#include <gtest/gtest.h>

#include <atomic>
#include <fstream>
#include <map>
#include <set>
#include <thread>

#include <httplib.h>
#include <nlohmann/json.hpp>

#include "tests/support/cluster.h"

namespace qlab::testing {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;

v1::Job GetJob(Cluster& c, int64_t id) {
  v1::GetJobRequest req;
  req.set_job_id(id);
  v1::Job job;
  c.jobs().GetJob(Deadline().get(), req, &job);
  return job;
}

v1::Experiment GetExperiment(Cluster& c, const std::string& name) {
  v1::GetExperimentRequest req;
  req.set_name(name);
  v1::Experiment e;
  c.jobs().GetExperiment(Deadline().get(), req, &e);
  return e;
}

int64_t Submit(Cluster& c, const std::string& experiment, const std::string& kind,
               const json& params) {
  v1::SubmitJobRequest req;
  req.set_experiment(experiment);
  req.mutable_spec()->set_kind(kind);
  req.mutable_spec()->set_params_json(params.dump());
  v1::Job job;
  grpc::Status st = c.jobs().SubmitJob(Deadline().get(), req, &job);
  EXPECT_TRUE(st.ok()) << st.error_message();
  return job.id();
}

bool AllSucceeded(Cluster& c, const std::string& experiment, int64_t jobs) {
  const v1::Experiment e = GetExperiment(c, experiment);
  return e.total_jobs() == jobs && e.succeeded_jobs() == jobs;
}

std::string WriteSweep(Cluster& c, const std::string& name, const std::string& text) {
  const std::string path = c.dir().File(name + ".yaml");
  std::ofstream(path) << text;
  return path;
}

TEST(TrustIntegrationTest, ResubmittingASweepRunsOnlyWhatItLacks) {
  Cluster c;
  c.StartServer();
  size_t worker = c.StartWorker();
  std::string out;
  const std::string first = WriteSweep(c, "first",
                                       "name: resume\nkind: noop\nparams: {duration_ms: 0}\n"
                                       "axes:\n  label: [a, b, c]\n");
  const std::string full = WriteSweep(c, "full",
                                      "name: resume\nkind: noop\nparams: {duration_ms: 0}\n"
                                      "axes:\n  label: [a, b, c, d, e, f]\n");
  ASSERT_EQ(c.Cli({"submit", first, "--wait", "--quiet"}, &out), 0) << out;

  // The worker goes away; the full sweep adds only the three jobs the experiment lacks.
  c.worker(worker).Kill();
  ASSERT_EQ(c.Cli({"submit", full}, &out), 0) << out;
  EXPECT_NE(out.find("3 jobs to run"), std::string::npos) << out;
  EXPECT_NE(out.find("3 reused"), std::string::npos) << out;
  EXPECT_EQ(GetExperiment(c, "resume").total_jobs(), 6);
  // A cancelled sweep...
  ASSERT_EQ(c.Cli({"cancel", "--experiment", "resume"}, &out), 0) << out;
  EXPECT_EQ(GetExperiment(c, "resume").cancelled_jobs(), 3);

  // ... resumes by resubmitting it: the cancelled jobs run again in place.
  ASSERT_EQ(c.Cli({"submit", full, "--dry-run"}, &out), 0) << out;
  EXPECT_NE(out.find("3 jobs would run (3 of them failed or cancelled before), 3 reused"),
            std::string::npos) << out;
  c.StartWorker();
  ASSERT_EQ(c.Cli({"submit", full, "--wait", "--quiet"}, &out), 0) << out;
  EXPECT_NE(out.find("3 jobs to run (3 of them failed or cancelled before), 3 reused"),
            std::string::npos) << out;
  ASSERT_TRUE(AllSucceeded(c, "resume", 6));
  // Each job succeeded once (the killed worker's lease of d, e or f may have expired first).
  std::map<int64_t, int> attempts;
  for (int64_t id = 1; id <= 6; ++id) {
    const v1::Job job = GetJob(c, id);
    int succeeded = 0;
    for (const auto& a : job.attempt_history()) succeeded += a.outcome() == "succeeded";
    EXPECT_EQ(succeeded, 1) << "job " << id;
    attempts[id] = job.attempt_history_size();
  }

  // A finished sweep resubmitted runs nothing, and --wait succeeds at once.
  ASSERT_EQ(c.Cli({"submit", full, "--wait", "--quiet"}, &out), 0) << out;
  EXPECT_NE(out.find("0 jobs to run"), std::string::npos) << out;
  EXPECT_NE(out.find("6 reused"), std::string::npos) << out;
  EXPECT_EQ(GetExperiment(c, "resume").total_jobs(), 6);
  for (int64_t id = 1; id <= 6; ++id) EXPECT_EQ(GetJob(c, id).attempt_history_size(), attempts[id]);
  // --force runs everything again.
  ASSERT_EQ(c.Cli({"submit", full, "--force", "--dry-run"}, &out), 0) << out;
  EXPECT_NE(out.find("6 jobs would run"), std::string::npos) << out;
  // Another kind under the same name is refused, naming the experiment.
  const std::string other = WriteSweep(c, "other", "name: resume\nkind: quantize\nparams: "
                                                   "{distribution: gaussian, shape: [8, 256], "
                                                   "seed: 1, datatype: nf4}\n");
  EXPECT_EQ(c.Cli({"submit", other}, &out), 2) << out;
  EXPECT_NE(out.find("kind noop"), std::string::npos) << out;
}

TEST(TrustIntegrationTest, MixedEnvironmentsAreGroupedInAParetoAndRefusedInAJoin) {
  Cluster c;
  c.StartServer();
  // Quantize runs inside this daemon: its runtime is the daemon's.
  c.StartWorker();
  const std::string sweep = WriteSweep(
      c, "mixed",
      "name: mixed\nkind: quantize\nparams: {distribution: gaussian, shape: [32, 256], seed: 1, "
      "scale_search: none}\naxes:\n  datatype: [int4_asym, nf4, e2m1, int8_asym]\n");
  std::string out;
  ASSERT_EQ(c.Cli({"submit", sweep, "--wait", "--quiet"}, &out), 0) << out;
  const v1::Job first = GetJob(c, 1);
  ASSERT_FALSE(first.comparability_key().empty());
  ASSERT_FALSE(first.environment_key().empty());
  EXPECT_EQ(first.backend(), "emulated");
  const json context = json::parse(first.context_json());
  EXPECT_EQ(context["evaluator"]["kind"], "quantize");
  EXPECT_EQ(context["device"]["name"], "cpu");
  EXPECT_EQ(context["kernel"]["name"], "reference_quantizer");
  ASSERT_EQ(c.Cli({"show", "1"}, &out), 0) << out;
  EXPECT_NE(out.find("comparability key: " + first.comparability_key()), std::string::npos) << out;

  // The same sweep again, forced, on a worker whose quantize jobs run in qlab-evaluate (another
  // runtime): the experiment now holds figures of two environments.
  v1::ListWorkersResponse listed;
  ASSERT_TRUE(c.workers().ListWorkers(Deadline().get(), {}, &listed).ok());
  ASSERT_EQ(listed.workers_size(), 1);
  ASSERT_EQ(c.Cli({"workers", "drain", listed.workers(0).worker_id()}, &out), 0) << out;
  c.StartWorker({"--in-process-kinds", "noop", "--worker-id", "child-runtime"});
  ASSERT_EQ(c.Cli({"submit", sweep, "--force", "--wait", "--quiet"}, &out), 0) << out;
  const v1::Job again = GetJob(c, 5);
  EXPECT_EQ(again.spec().params_json(), first.spec().params_json());
  EXPECT_NE(again.environment_key(), first.environment_key());
  EXPECT_NE(again.comparability_key(), first.comparability_key());

  v1::ParetoRequest pr;
  pr.set_experiment("mixed");
  pr.set_x_metric("bits_per_weight");
  pr.set_y_metric("mse");
  v1::ParetoResponse grouped;
  ASSERT_TRUE(c.results().Pareto(Deadline().get(), pr, &grouped).ok());
  ASSERT_EQ(grouped.key_groups_size(), 2);
  EXPECT_NE(grouped.warning().find("one front per environment"), std::string::npos);
  std::map<std::string, int> frontier_of;
  for (const auto& p : grouped.points()) {
    ASSERT_TRUE(p.key() == first.environment_key() || p.key() == again.environment_key());
    frontier_of[p.key()] += p.on_frontier();
  }
  // Equal figures in both environments: each front is the other's, found in each group alone.
  EXPECT_GT(frontier_of[first.environment_key()], 0);
  EXPECT_EQ(frontier_of[first.environment_key()], frontier_of[again.environment_key()]);
  pr.set_keys("mix");
  v1::ParetoResponse mixed;
  ASSERT_TRUE(c.results().Pareto(Deadline().get(), pr, &mixed).ok());
  EXPECT_NE(mixed.warning().find("keys=mix"), std::string::npos) << mixed.warning();
  ASSERT_EQ(c.Cli({"pareto", "--experiment", "mixed"}, &out), 0) << out;
  EXPECT_NE(out.find("2 environments"), std::string::npos) << out;

  // A join on a side that mixes environments is refused, naming keys; keys=group tags pairs.
  const std::string lat = WriteSweep(
      c, "lat",
      "name: lat\nkind: quantize\nparams: {distribution: laplace, shape: [32, 256], seed: 2}\n"
      "axes:\n  datatype: [int4_asym, nf4]\n");
  ASSERT_EQ(c.Cli({"submit", lat, "--wait", "--quiet"}, &out), 0) << out;
  EXPECT_EQ(c.Cli({"results", "--experiment", "mixed", "--join", "lat", "--on", "datatype"}, &out), 2)
      << out;
  EXPECT_NE(out.find("keys"), std::string::npos) << out;
  EXPECT_NE(out.find("2 environments"), std::string::npos) << out;
  ASSERT_EQ(c.Cli({"results", "--experiment", "mixed", "--join", "lat", "--on", "datatype",
                   "--keys", "group", "--json"}, &out), 0) << out;
  std::set<std::string> keys_a;
  const json joined = json::parse(out);
  for (const auto& row : joined["rows"]) keys_a.insert(row["environment_key_a"].get<std::string>());
  EXPECT_EQ(keys_a.size(), 2u) << out;

  // The keys travel with exports.
  ASSERT_EQ(c.Cli({"results", "--experiment", "mixed", "--csv"}, &out), 0) << out;
  EXPECT_NE(out.find("comparability_key,environment_key,backend,flag"), std::string::npos) << out;
  EXPECT_NE(out.find(first.comparability_key()), std::string::npos) << out;
  // Streamed over gRPC (ExportResults): an unknown experiment still fails before any row.
  EXPECT_NE(c.Cli({"results", "--experiment", "no-such-experiment", "--csv"}, &out), 0) << out;
  EXPECT_NE(out.find("no-such-experiment"), std::string::npos) << out;

  // The regression view pairs equal params: nothing moved (the quantizer is deterministic),
  // and the runtime is what differs.
  const std::string copy = WriteSweep(
      c, "copy",
      "name: copy\nkind: quantize\nparams: {distribution: gaussian, shape: [32, 256], seed: 1, "
      "scale_search: none}\naxes:\n  datatype: [int4_asym, nf4, e2m1, int8_asym]\n");
  ASSERT_EQ(c.Cli({"submit", copy, "--wait", "--quiet"}, &out), 0) << out;
  ASSERT_EQ(c.Cli({"compare", "mixed", "copy", "--json"}, &out), 0) << out;
  const json cmp = json::parse(out);
  EXPECT_EQ(cmp["pairs"], 4);
  EXPECT_EQ(cmp["moved_count"], 0);
  EXPECT_EQ(cmp["keys_a"].size(), 2u);
}

TEST(TrustIntegrationTest, AJobForADatatypeNoDeviceRunsNativelyWaitsWithTheReason) {
  Cluster c;
  c.StartServer();
  c.StartWorker();
  std::string out;
  // The worker's CPU has kernels for int4_asym, not for nf4: its capability matrix says so.
  ASSERT_TRUE(WaitFor([&] { return c.Cli({"workers", "--formats"}, &out) == 0 &&
                                   out.find("nf4") != std::string::npos; }, 20s)) << out;
  EXPECT_NE(out.find("emulated"), std::string::npos) << out;
  v1::ListWorkersResponse workers;
  ASSERT_TRUE(c.workers().ListWorkers(Deadline().get(), {}, &workers).ok());
  ASSERT_EQ(workers.workers_size(), 1);
  const auto& formats = workers.workers(0).devices(0).formats();
  ASSERT_TRUE(formats.count("nf4"));
  EXPECT_EQ(formats.at("nf4"), "emulated");

  const int64_t id = Submit(c, "needs-nf4", "kernel_bench",
                            {{"device", "cpu"}, {"datatype", "nf4"}, {"n", 256}, {"k", 256}});
  std::this_thread::sleep_for(1500ms);  // several lease polls of an idle worker
  const v1::Job job = GetJob(c, id);
  EXPECT_EQ(job.state(), v1::JOB_STATE_PENDING);
  EXPECT_EQ(job.attempts(), 0);
  EXPECT_NE(job.pending_reason().find("runs datatype nf4 natively"), std::string::npos)
      << job.pending_reason();
  // A quantize job of the same datatype runs: the CPU emulates it.
  const int64_t emulated = Submit(c, "needs-nf4", "quantize",
                                  {{"distribution", "gaussian"}, {"shape", {8, 256}}, {"seed", 1},
                                   {"datatype", "nf4"}});
  ASSERT_TRUE(WaitFor([&] { return GetJob(c, emulated).state() == v1::JOB_STATE_SUCCEEDED; }, 30s));
  EXPECT_EQ(GetJob(c, id).state(), v1::JOB_STATE_PENDING);
}

// Keeps every core busy while it lives: what a co-tenant or a throttling host does to timings.
class CpuLoad {
 public:
  explicit CpuLoad(int threads) {
    for (int i = 0; i < threads; ++i) {
      threads_.emplace_back([this] {
        volatile double x = 1;
        while (!stop_.load(std::memory_order_relaxed)) x = x * 1.0000001 + 1e-9;
      });
    }
  }
  ~CpuLoad() { Stop(); }
  void Stop() {
    stop_ = true;
    for (auto& t : threads_) {
      if (t.joinable()) t.join();
    }
  }

 private:
  std::atomic<bool> stop_{false};
  std::vector<std::thread> threads_;
};

const v1::DeviceCanary* CpuCanary(const v1::ListWorkersResponse& r) {
  for (const auto& w : r.workers()) {
    for (const auto& cy : w.canaries()) {
      if (cy.device() == "cpu") return &cy;
    }
  }
  return nullptr;
}

v1::ListWorkersResponse Workers(Cluster& c) {
  v1::ListWorkersResponse r;
  c.workers().ListWorkers(Deadline().get(), {}, &r);
  return r;
}

TEST(TrustIntegrationTest, ADriftingCanaryQuarantinesTheDeviceAndFlagsItsResults) {
  Cluster c;
  c.StartServer();
  c.StartWorker({"--canary-interval", "0.3"});
  // A baseline of several canaries on the idle device, none of them a drift.
  ASSERT_TRUE(WaitFor([&] {
    auto r = Workers(c);
    const auto* cy = CpuCanary(r);
    return cy && cy->history() >= 6 && cy->verdict() == "ok";
  }, 60s));

  const json bench = {{"device", "cpu"}, {"datatype", "int4_asym"}, {"n", 2048}, {"k", 2048},
                      {"repetitions", 400}, {"threads", 1}};
  const int64_t measured = Submit(c, "timed", "kernel_bench", bench);
  ASSERT_TRUE(WaitFor([&] { return GetJob(c, measured).state() == v1::JOB_STATE_RUNNING; }, 60s));
  // The host gets busy while the job measures; the worker's next canary sees it.
  CpuLoad load(6);
  ASSERT_TRUE(WaitFor([&] { return GetJob(c, measured).state() == v1::JOB_STATE_SUCCEEDED; }, 180s));
  ASSERT_TRUE(WaitFor([&] {
    auto r = Workers(c);
    const auto* cy = CpuCanary(r);
    return cy && cy->quarantined();
  }, 60s));
  const v1::ListWorkersResponse quarantined = Workers(c);
  const v1::DeviceCanary* cy = CpuCanary(quarantined);
  ASSERT_NE(cy, nullptr);
  EXPECT_EQ(cy->verdict(), "drift");
  EXPECT_GT(cy->median_us(), cy->baseline_median_us());

  // The result measured since the last good canary is flagged; timing jobs wait.
  const v1::Job flagged = GetJob(c, measured);
  EXPECT_NE(flagged.flag().find("drift"), std::string::npos) << flagged.flag();
  const int64_t waiting = Submit(c, "timed", "kernel_bench", bench);
  std::this_thread::sleep_for(1s);
  v1::Job w = GetJob(c, waiting);
  if (w.state() == v1::JOB_STATE_PENDING) {
    EXPECT_NE(w.pending_reason().find("quarantined"), std::string::npos) << w.pending_reason();
  } else {
    ADD_FAILURE() << "a timing job ran on a quarantined device: " << w.state();
  }
  std::string out;
  ASSERT_EQ(c.Cli({"workers"}, &out), 0) << out;
  EXPECT_NE(out.find("QUARANTINED"), std::string::npos) << out;
  httplib::Client http("http://" + c.http_address());
  auto metrics = http.Get("/metrics");
  ASSERT_TRUE(metrics);
  EXPECT_NE(metrics->body.find("qlab_devices_quarantined 1"), std::string::npos);
  EXPECT_NE(metrics->body.find("qlab_flagged_results_total 1"), std::string::npos);
  EXPECT_NE(metrics->body.find("qlab_canaries_total{verdict=\"drift\"}"), std::string::npos);

  // The host quiets down: a canary within bounds lifts the quarantine and the job runs,
  // unflagged. The history is kept.
  load.Stop();
  ASSERT_TRUE(WaitFor([&] { return GetJob(c, waiting).state() == v1::JOB_STATE_SUCCEEDED; }, 180s));
  EXPECT_EQ(GetJob(c, waiting).flag(), "");
  EXPECT_GE(CpuCanary(Workers(c)) ? CpuCanary(Workers(c))->history() : 0, 8);
}

}  // namespace
}  // namespace qlab::testing
