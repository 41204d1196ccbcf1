#include "storage/job_store.h"

#include <gtest/gtest.h>

#include <thread>

#include "tests/support/temp_dir.h"

namespace qlab::storage {
namespace {

class JobStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto store = JobStore::Open(dir_.File("q.db"));
    ASSERT_TRUE(store.ok()) << store.status().ToString();
    store_ = std::move(store).value();
  }

  // Creates an experiment of `n` jobs and returns the first job id.
  int64_t Submit(const std::string& name, int n, int max_attempts = 3) {
    ExperimentRecord e;
    e.name = name;
    e.kind = "noop";
    e.spec_json = "{}";
    std::vector<JobSpec> jobs(n);
    for (auto& j : jobs) {
      j.kind = "noop";
      j.params_json = "{}";
      j.max_attempts = max_attempts;
    }
    auto created = store_->CreateExperiment(e, jobs, 1000);
    EXPECT_TRUE(created.ok()) << created.status().ToString();
    return created->first_job_id;
  }

  bool Lease(int64_t job, int64_t token, const std::string& worker = "w1") {
    std::vector<bool> granted;
    EXPECT_TRUE(store_->RecordLeases({{job, token, worker, 5000}}, 2000, &granted).ok());
    return granted[0];
  }

  CompletionAck Complete(int64_t job, int64_t token, std::vector<Metric> metrics = {{"m", 1.0}}) {
    CompletionRecord r;
    r.job_id = job;
    r.token = token;
    r.output.metrics = std::move(metrics);
    std::vector<CompletionAck> acks;
    EXPECT_TRUE(store_->Complete({r}, 3000, &acks).ok());
    return acks[0];
  }

  testing::TempDir dir_;
  std::unique_ptr<JobStore> store_;
};

TEST_F(JobStoreTest, ExperimentStoresAllJobsWithConsecutiveIds) {
  int64_t first = Submit("e1", 10);
  auto exp = store_->GetExperiment("e1", 0);
  ASSERT_TRUE(exp.ok());
  EXPECT_EQ(exp->total, 10);
  EXPECT_EQ(exp->pending, 10);
  auto last = store_->GetJob(first + 9);
  ASSERT_TRUE(last.ok());
  EXPECT_EQ(last->experiment, "e1");
}

TEST_F(JobStoreTest, DuplicateExperimentNameIsAlreadyExistsAndWritesNothing) {
  Submit("e1", 3);
  ExperimentRecord e;
  e.name = "e1";
  e.kind = "noop";
  auto again = store_->CreateExperiment(e, std::vector<JobSpec>(5, JobSpec{"noop", "{}"}), 1);
  EXPECT_EQ(again.status().code(), StatusCode::kAlreadyExists);
  EXPECT_EQ(*store_->CountJobs({}), 3);
}

TEST_F(JobStoreTest, CompletionIsAcceptedOnceAndOnlyWithTheLiveToken) {
  int64_t job = Submit("e1", 1);
  ASSERT_TRUE(Lease(job, 7));
  EXPECT_FALSE(Lease(job, 8)) << "a leased job cannot be leased again";

  CompletionAck wrong = Complete(job, 6);
  EXPECT_FALSE(wrong.accepted);
  EXPECT_NE(wrong.reason.find("stale fencing token"), std::string::npos);

  CompletionAck ok = Complete(job, 7, {{"mse", 0.5}, {"sqnr_db", 20.0, "dB", 0, true}});
  EXPECT_TRUE(ok.accepted);
  EXPECT_FALSE(Complete(job, 7).accepted) << "duplicate completion must be rejected";

  auto j = store_->GetJob(job);
  EXPECT_EQ(j->state, JobState::kSucceeded);
  auto metrics = store_->GetMetrics(job);
  ASSERT_EQ(metrics->size(), 2u);
  EXPECT_EQ((*metrics)[0].name, "mse");
  EXPECT_TRUE((*metrics)[1].higher_is_better);
}

TEST_F(JobStoreTest, DuplicateMetricNameRejectsThatCompletionAlone) {
  int64_t first = Submit("e1", 2);
  ASSERT_TRUE(Lease(first, 1));
  ASSERT_TRUE(Lease(first + 1, 2));
  CompletionRecord bad{first, 1};
  bad.output.metrics = {{"m", 1}, {"m", 2}};
  CompletionRecord good{first + 1, 2};
  good.output.metrics = {{"m", 3}};
  std::vector<CompletionAck> acks;
  ASSERT_TRUE(store_->Complete({bad, good}, 10, &acks).ok());
  EXPECT_FALSE(acks[0].accepted);
  EXPECT_TRUE(acks[1].accepted);
  EXPECT_EQ(store_->GetJob(first)->state, JobState::kLeased);
  EXPECT_TRUE(store_->GetMetrics(first)->empty());
}

// An expired lease is the infrastructure's failure: the job is requeued without spending an
// attempt, until it has lost the server's limit of attempts that way.
TEST_F(JobStoreTest, ExpiryRequeuesWithoutSpendingAttemptsUntilTheInfrastructureLimit) {
  store_->set_max_infra_failures(2);
  int64_t job = Submit("e1", 1, /*max_attempts=*/1);
  ASSERT_TRUE(Lease(job, 1));
  std::vector<ExpiryOutcome> out;
  ASSERT_TRUE(store_->Expire({{job, 1}}, 100, &out).ok());
  EXPECT_TRUE(out[0].applied);
  EXPECT_EQ(out[0].new_state, JobState::kPending);
  EXPECT_EQ(store_->GetJob(job)->attempts, 0);
  EXPECT_EQ(store_->GetJob(job)->infra_failures, 1);
  EXPECT_FALSE(Complete(job, 1).accepted) << "the expired lease's late completion";

  ASSERT_TRUE(Lease(job, 2, "w2"));
  ASSERT_TRUE(store_->Expire({{job, 2}}, 200, &out).ok());
  EXPECT_EQ(out[0].new_state, JobState::kFailed);
  auto j = store_->GetJob(job);
  EXPECT_EQ(j->attempts, 0);
  EXPECT_EQ(j->infra_failures, 2);
  EXPECT_EQ(j->failure_class, "infrastructure");
  EXPECT_NE(j->last_error.find("2 attempts lost to infrastructure"), std::string::npos)
      << j->last_error;
  auto attempts = store_->GetAttempts(job);
  ASSERT_EQ(attempts->size(), 2u);
  EXPECT_EQ((*attempts)[0].outcome, "expired");
  EXPECT_EQ((*attempts)[0].failure_class, "infrastructure");
  EXPECT_EQ((*attempts)[1].worker_id, "w2");
}

CompletionRecord Failure(int64_t job, int64_t token, const std::string& failure_class,
                         const std::string& error, const std::string& log = "") {
  CompletionRecord r;
  r.job_id = job;
  r.token = token;
  r.outcome = CompletionOutcome::kFailed;
  r.failure_class = failure_class;
  r.error = error;
  r.log = log;
  return r;
}

// A crash is retried and spends an attempt; after max_attempts crashes the job is poison. A job
// error ends the job at once; an infrastructure failure requeues it for free.
TEST_F(JobStoreTest, FailuresAreRetriedOrEndedByTheirClass) {
  const int64_t crash = Submit("crash", 1, /*max_attempts=*/2);
  const int64_t bad = Submit("bad", 1);
  const int64_t infra = Submit("infra", 1, /*max_attempts=*/1);
  std::vector<CompletionAck> acks;
  ASSERT_TRUE(Lease(crash, 1));
  ASSERT_TRUE(Lease(bad, 2));
  ASSERT_TRUE(Lease(infra, 3));
  ASSERT_TRUE(store_->Complete({Failure(crash, 1, "crash", "ABORTED: killed by SIGSEGV", "a\n"),
                                Failure(bad, 2, "job_error", "INVALID_ARGUMENT: shape"),
                                Failure(infra, 3, "infrastructure", "UNAVAILABLE: disk full")},
                               1000, &acks).ok());
  EXPECT_EQ(acks[0].new_state, JobState::kPending);
  EXPECT_FALSE(acks[0].attempt_refunded);
  EXPECT_EQ(acks[1].new_state, JobState::kFailed);
  EXPECT_EQ(acks[1].failure_class, "job_error");
  EXPECT_EQ(acks[2].new_state, JobState::kPending);
  EXPECT_TRUE(acks[2].attempt_refunded);
  EXPECT_EQ(store_->GetJob(infra)->attempts, 0);
  EXPECT_EQ(store_->GetJob(infra)->infra_failures, 1);
  EXPECT_EQ(store_->GetJob(bad)->failure_class, "job_error");

  ASSERT_TRUE(Lease(crash, 4));
  ASSERT_TRUE(store_->Complete({Failure(crash, 4, "crash", "ABORTED: killed by SIGSEGV", "b\n")},
                               2000, &acks).ok());
  EXPECT_EQ(acks[0].new_state, JobState::kFailed);
  EXPECT_EQ(acks[0].failure_class, "poison");
  auto j = store_->GetJob(crash);
  EXPECT_EQ(j->failure_class, "poison");
  EXPECT_NE(j->last_error.find("crashed on all 2 attempt(s)"), std::string::npos) << j->last_error;
  EXPECT_NE(j->last_error.find("SIGSEGV"), std::string::npos) << j->last_error;
  // Each attempt keeps its own log.
  auto first = store_->GetAttemptLog(crash, 1);
  ASSERT_TRUE(first.ok()) << first.status().ToString();
  EXPECT_EQ(first->log, "a\n");
  EXPECT_EQ(first->count, 2);
  EXPECT_EQ(first->attempt.failure_class, "crash");
  EXPECT_EQ(store_->GetAttemptLog(crash, 0)->log, "b\n");
  EXPECT_EQ(store_->GetAttemptLog(crash, 3).status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(store_->GetAttemptLog(Submit("never", 1), 0).status().code(), StatusCode::kNotFound);
}

// Streamed output grows a live attempt's log, keeps only its last 1 MiB, is ignored once the
// attempt has ended, and is replaced by the completion's final tail.
TEST_F(JobStoreTest, AttemptLogsStreamWhileLiveAndKeepTheirTail) {
  const int64_t job = Submit("log", 1);
  ASSERT_TRUE(Lease(job, 1));
  ASSERT_TRUE(store_->AppendAttemptLogs({{1, job, "one\n"}, {1, job, std::string("two\0\n", 5)}}).ok());
  EXPECT_EQ(store_->GetAttemptLog(job, 1)->log, std::string("one\ntwo\0\n", 9));
  ASSERT_TRUE(store_->AppendAttemptLogs({{1, job, std::string(kMaxAttemptLogBytes, 'x') + "end"}}).ok());
  auto log = store_->GetAttemptLog(job, 1);
  ASSERT_EQ(log->log.size(), kMaxAttemptLogBytes);
  EXPECT_EQ(log->log.substr(log->log.size() - 3), "end");
  EXPECT_EQ(store_->GetAttempts(job)->at(0).log_bytes, static_cast<int64_t>(kMaxAttemptLogBytes));
  CompletionRecord done;
  done.job_id = job;
  done.token = 1;
  done.log = "final\n";
  std::vector<CompletionAck> acks;
  ASSERT_TRUE(store_->Complete({done}, 3000, &acks).ok());
  ASSERT_TRUE(acks[0].accepted);
  EXPECT_EQ(store_->GetAttemptLog(job, 1)->log, "final\n");
  ASSERT_TRUE(store_->AppendAttemptLogs({{1, job, "late\n"}}).ok());
  EXPECT_EQ(store_->GetAttemptLog(job, 1)->log, "final\n");
}

TEST_F(JobStoreTest, ExpiryOfACompletedLeaseChangesNothing) {
  int64_t job = Submit("e1", 1);
  ASSERT_TRUE(Lease(job, 1));
  ASSERT_TRUE(Complete(job, 1).accepted);
  std::vector<ExpiryOutcome> out;
  ASSERT_TRUE(store_->Expire({{job, 1}}, 100, &out).ok());
  EXPECT_FALSE(out[0].applied);
  EXPECT_EQ(store_->GetJob(job)->state, JobState::kSucceeded);
}

TEST_F(JobStoreTest, ReleaseReturnsJobWithoutCountingAnAttempt) {
  int64_t job = Submit("e1", 1);
  ASSERT_TRUE(Lease(job, 1));
  CompletionRecord r{job, 1, CompletionOutcome::kReleased};
  std::vector<CompletionAck> acks;
  ASSERT_TRUE(store_->Complete({r}, 10, &acks).ok());
  EXPECT_TRUE(acks[0].accepted);
  auto j = store_->GetJob(job);
  EXPECT_EQ(j->state, JobState::kPending);
  EXPECT_EQ(j->attempts, 0);
}

TEST_F(JobStoreTest, CancelStopsPendingAndRunningButNotFinished) {
  int64_t first = Submit("e1", 3);
  ASSERT_TRUE(Lease(first, 1));
  ASSERT_TRUE(Lease(first + 1, 2));
  ASSERT_TRUE(Complete(first + 1, 2).accepted);
  auto cancelled = store_->Cancel(0, "e1", 50);
  ASSERT_TRUE(cancelled.ok());
  EXPECT_EQ(cancelled->size(), 2u);
  EXPECT_FALSE(Complete(first, 1).accepted) << "a cancelled job accepts no result";
  EXPECT_EQ(store_->GetJob(first + 1)->state, JobState::kSucceeded);
  EXPECT_EQ(store_->Cancel(99999, "", 1).status().code(), StatusCode::kNotFound);
}

TEST_F(JobStoreTest, UnfinishedJobsSurviveReopen) {
  int64_t first = Submit("e1", 3);
  ASSERT_TRUE(Lease(first, 11));
  store_.reset();
  auto reopened = JobStore::Open(dir_.File("q.db"));
  ASSERT_TRUE(reopened.ok());
  auto jobs = (*reopened)->LoadUnfinishedJobs();
  ASSERT_EQ(jobs->size(), 3u);
  EXPECT_EQ((*jobs)[0].live_token, 11);
  EXPECT_EQ(*(*reopened)->MaxToken(), 11);
}

TEST_F(JobStoreTest, ListJobsPagesNewestFirstWithFilters) {
  Submit("a", 5);
  Submit("b", 3);
  auto page = store_->ListJobs({"a", 0, ""}, 0, 2);
  ASSERT_EQ(page->size(), 2u);
  EXPECT_GT((*page)[0].id, (*page)[1].id);
  auto next = store_->ListJobs({"a", 0, ""}, page->back().id, 10);
  EXPECT_EQ(next->size(), 3u);
  EXPECT_EQ(*store_->CountJobs({"", static_cast<int>(JobState::kPending), "noop"}), 8);
}

TEST_F(JobStoreTest, LatencySamplesRoundTrip) {
  int64_t job = Submit("e1", 1);
  ASSERT_TRUE(Lease(job, 1));
  CompletionRecord r{job, 1};
  LatencySampleSet l;
  l.arch_key = "nb201:0";
  l.device = "cpu";
  l.samples_us = {1.5, 2.5, 3.0};
  l.median_us = 2.5;
  r.output.latency = {l};
  std::vector<CompletionAck> acks;
  ASSERT_TRUE(store_->Complete({r}, 10, &acks).ok());
  auto got = store_->GetLatencySamples(job);
  ASSERT_EQ(got->size(), 1u);
  EXPECT_EQ((*got)[0].samples_us, l.samples_us);
  EXPECT_EQ((*got)[0].median_us, 2.5);
}

// A full database (max_page_count stands in for a full disk): submissions fail as
// RESOURCE_EXHAUSTED and store nothing, reads go on, every accepted job is intact, and writes
// succeed again once there is room, with no lost or doubled rows.
TEST_F(JobStoreTest, FullDatabaseRefusesWritesKeepsReadsAndRecovers) {
  ASSERT_TRUE(store_->writer().Run([](Connection& c) { return LimitDatabaseSize(c, 512 << 10); }).ok());
  ExperimentRecord e;
  e.kind = "noop";
  e.spec_json = "{}";
  std::vector<JobSpec> jobs(300);
  for (auto& j : jobs) {
    j.kind = "noop";
    j.params_json = R"({"label": ")" + std::string(200, 'x') + R"("})";
    j.max_attempts = 3;
  }
  int accepted = 0;
  Status refused;
  for (int i = 0; i < 100 && refused.ok(); ++i) {
    e.name = "fill-" + std::to_string(i);
    auto created = store_->CreateExperiment(e, jobs, 1000);
    if (created.ok()) {
      ++accepted;
    } else {
      refused = created.status();
    }
  }
  ASSERT_FALSE(refused.ok()) << "512 KiB never filled up";
  EXPECT_EQ(refused.code(), StatusCode::kResourceExhausted) << refused.ToString();
  EXPECT_NE(refused.message().find("full"), std::string::npos);
  ASSERT_GT(accepted, 0);
  // Reads go on, and see exactly what was accepted.
  auto experiments = store_->ListExperiments();
  ASSERT_TRUE(experiments.ok());
  EXPECT_EQ(experiments->size(), static_cast<size_t>(accepted));
  EXPECT_EQ(*store_->CountJobs({}), accepted * 300);
  EXPECT_EQ(store_->GetExperiment("fill-" + std::to_string(accepted), 0).status().code(), StatusCode::kNotFound);
  // Room again: the refused experiment goes in whole, once.
  ASSERT_TRUE(store_->writer().Run([](Connection& c) { return LimitDatabaseSize(c, 64 << 20); }).ok());
  e.name = "fill-" + std::to_string(accepted);
  ASSERT_TRUE(store_->CreateExperiment(e, jobs, 1000).ok());
  EXPECT_EQ(*store_->CountJobs({}), (accepted + 1) * 300);
}

// Closures batched into one transaction with one that hits a full disk: SQLite may roll the
// whole transaction back, and then none of them may be reported as stored.
TEST_F(JobStoreTest, BatchedWritesAroundAFullDiskAreAllOrNothingEach) {
  ASSERT_TRUE(store_->writer().Run([](Connection& c) { return LimitDatabaseSize(c, 256 << 10); }).ok());
  std::vector<std::thread> threads;
  std::vector<Status> results(16);
  for (int t = 0; t < 16; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 40 && results[t].ok(); ++i) {
        ExperimentRecord e;
        e.name = "t" + std::to_string(t) + "-" + std::to_string(i);
        e.kind = "noop";
        e.spec_json = "{}";
        std::vector<JobSpec> jobs(20, JobSpec{"noop", R"({"label": ")" + std::string(300, 'y') + R"("})"});
        auto created = store_->CreateExperiment(e, jobs, 1000);
        if (!created.ok()) results[t] = created.status();
      }
    });
  }
  for (auto& th : threads) th.join();
  // Every experiment the store lists has all 20 of its jobs: nothing half-written, and the
  // number of jobs is exactly 20 per listed experiment.
  auto experiments = store_->ListExperiments();
  ASSERT_TRUE(experiments.ok());
  EXPECT_EQ(*store_->CountJobs({}), static_cast<int64_t>(experiments->size()) * 20);
  int full = 0;
  for (const auto& st : results) full += st.code() == StatusCode::kResourceExhausted;
  EXPECT_GT(full, 0);
  for (const auto& st : results) EXPECT_TRUE(st.ok() || st.code() == StatusCode::kResourceExhausted) << st.ToString();
}

}  // namespace
}  // namespace qlab::storage

namespace qlab::storage {
namespace {

TEST(CanaryStoreTest, KeepsABoundedHistoryPerDevice) {
  testing::TempDir dir;
  auto store = std::move(JobStore::Open(dir.File("c.db"))).value();
  int64_t flagged = 0;
  for (int i = 0; i < kMaxCanariesPerDevice + 5; ++i) {
    for (const char* device : {"cpu", "cuda:0"}) {
      CanaryRecord r;
      r.worker_id = "w";
      r.device = device;
      r.canary = "c";
      r.measured_unix_ms = i;
      r.median_us = 100 + i;
      r.samples_us = {100.0 + i};
      r.verdict = "ok";
      ASSERT_TRUE(store->RecordCanary(&r, "", 0, &flagged).ok());
    }
  }
  std::vector<int64_t> counts, last_good;
  auto latest = store->LatestCanaries(&counts, &last_good);
  ASSERT_TRUE(latest.ok());
  ASSERT_EQ(latest->size(), 2u);
  for (size_t i = 0; i < latest->size(); ++i) {
    EXPECT_EQ(counts[i], kMaxCanariesPerDevice) << (*latest)[i].device;
    EXPECT_EQ((*latest)[i].median_us, 100.0 + kMaxCanariesPerDevice + 4);
    EXPECT_EQ(last_good[i], kMaxCanariesPerDevice + 4);
  }
  auto history = store->CanaryHistory("w", "cpu", 3);
  ASSERT_TRUE(history.ok());
  ASSERT_EQ(history->size(), 3u);
  EXPECT_EQ(history->front().samples_us, std::vector<double>{100.0 + kMaxCanariesPerDevice + 4});
}

}  // namespace
}  // namespace qlab::storage
