#include "server/scheduler.h"

#include <gtest/gtest.h>

#include <set>
#include <thread>

#include "tests/support/temp_dir.h"

namespace qlab::server {
namespace {

class SchedulerTest : public ::testing::Test {
 protected:
  void SetUp() override { Open(); }

  void Open() {
    auto store = storage::JobStore::Open(dir_.File("s.db"));
    ASSERT_TRUE(store.ok());
    store_ = std::move(store).value();
    SchedulerOptions options;
    options.lease_ttl_ms = 1000;
    options.worker_live_ms = 1000;
    scheduler_ = std::make_unique<Scheduler>(store_.get(), &clock_, options);
    ASSERT_TRUE(scheduler_->Start().ok());
  }

  void Reopen() {
    scheduler_.reset();
    store_.reset();
    Open();
  }

  std::string Register(const std::string& id, std::vector<DeviceInfo> devices, int slots = 1,
                       std::set<std::string> kinds = {"noop"}) {
    WorkerRegistration r;
    r.worker_id = id;
    r.host = "h";
    r.devices = std::move(devices);
    r.kinds = std::move(kinds);
    r.slots = slots;
    auto got = scheduler_->RegisterWorker(r);
    EXPECT_TRUE(got.ok());
    return *got;
  }

  int64_t Submit(const std::string& name, int n, storage::Requirements req = {}, int priority = 0,
                 int max_attempts = 2) {
    storage::ExperimentRecord e;
    e.name = name;
    e.kind = "noop";
    std::vector<storage::JobSpec> jobs(n, storage::JobSpec{"noop", "{}", req, priority, max_attempts});
    auto created = scheduler_->SubmitExperiment(e, jobs);
    EXPECT_TRUE(created.ok()) << created.status().ToString();
    return created->first_job_id;
  }

  std::vector<LeaseInfo> Acquire(const std::string& worker, int max = 10) {
    auto leases = scheduler_->AcquireLeases(worker, max, 0);
    EXPECT_TRUE(leases.ok()) << leases.status().ToString();
    return leases.ok() ? *leases : std::vector<LeaseInfo>{};
  }

  storage::CompletionAck Complete(const std::string& worker, const LeaseInfo& l) {
    storage::CompletionRecord c{l.job_id, l.token};
    c.output.metrics = {{"m", 1}};
    auto acks = scheduler_->Complete(worker, {c});
    EXPECT_TRUE(acks.ok());
    return (*acks)[0];
  }

  testing::TempDir dir_;
  FakeClock clock_;
  std::unique_ptr<storage::JobStore> store_;
  std::unique_ptr<Scheduler> scheduler_;
};

const DeviceInfo kCpu{1, "cpu", "Test CPU", 8ull << 30};
const DeviceInfo kGpu{2, "cuda:0", "NVIDIA H100 80GB HBM3", 80ull << 30};

TEST_F(SchedulerTest, LeasesOnlyToMatchingWorkersAndExplainsWaiting) {
  Register("cpu-worker", {kCpu});
  int64_t gpu_job = Submit("g", 1, storage::Requirements{2});
  EXPECT_TRUE(Acquire("cpu-worker").empty());
  EXPECT_EQ(scheduler_->PendingReason(gpu_job), "no live worker has device class cuda");
  Register("gpu-worker", {kCpu, kGpu});
  auto leases = Acquire("gpu-worker");
  ASSERT_EQ(leases.size(), 1u);
  EXPECT_EQ(leases[0].device, "cuda:0");
}

TEST_F(SchedulerTest, WorkersOfOneHostRegisteringAtOnceGetDistinctIds) {
  std::vector<std::thread> threads;
  std::vector<std::string> ids(8);
  for (int i = 0; i < 8; ++i) {
    threads.emplace_back([&, i] { ids[i] = Register("", {kCpu}); });
  }
  for (auto& t : threads) t.join();
  std::set<std::string> distinct(ids.begin(), ids.end());
  EXPECT_EQ(distinct.size(), 8u);
  EXPECT_EQ(distinct.count("h-1"), 1u);
}

TEST_F(SchedulerTest, HigherPriorityFirstThenOldest) {
  Register("w", {kCpu}, 1);
  int64_t low = Submit("low", 2, {}, 0);
  int64_t high = Submit("high", 1, {}, 5);
  auto first = Acquire("w");
  ASSERT_EQ(first.size(), 1u) << "one slot";
  EXPECT_EQ(first[0].job_id, high);
  EXPECT_TRUE(Complete("w", first[0]).accepted);
  auto second = Acquire("w");
  ASSERT_EQ(second.size(), 1u);
  EXPECT_EQ(second[0].job_id, low);
}

TEST_F(SchedulerTest, ExclusiveJobRunsAlone) {
  Register("w", {kCpu}, 4);
  Submit("shared", 2);
  storage::Requirements ex;
  ex.exclusive = true;
  int64_t exclusive = Submit("ex", 1, ex, 10);
  auto leases = Acquire("w", 4);
  ASSERT_EQ(leases.size(), 1u);
  EXPECT_EQ(leases[0].job_id, exclusive);
  EXPECT_TRUE(Acquire("w", 4).empty()) << "nothing beside an exclusive job";
  EXPECT_TRUE(Complete("w", leases[0]).accepted);
  EXPECT_EQ(Acquire("w", 4).size(), 2u);
}

TEST_F(SchedulerTest, ExpiredLeaseRequeuesAndRejectsLateCompletion) {
  Register("a", {kCpu});
  Register("b", {kCpu});
  int64_t job = Submit("e", 1);
  auto lease_a = Acquire("a");
  ASSERT_EQ(lease_a.size(), 1u);
  clock_.AdvanceMs(500);
  ASSERT_TRUE(scheduler_->Heartbeat("a", {{job, lease_a[0].token, 0.5, true}}).ok());
  EXPECT_EQ(*scheduler_->ExpireLeases(), 0) << "heartbeat extended the lease";
  EXPECT_EQ(store_->GetJob(job)->state, storage::JobState::kRunning);
  clock_.AdvanceMs(1500);
  EXPECT_EQ(*scheduler_->ExpireLeases(), 1);
  EXPECT_EQ(store_->GetJob(job)->state, storage::JobState::kPending);

  auto lease_b = Acquire("b");
  ASSERT_EQ(lease_b.size(), 1u);
  EXPECT_GT(lease_b[0].token, lease_a[0].token);
  EXPECT_FALSE(Complete("a", lease_a[0]).accepted) << "the dead worker's late result";
  auto hb = scheduler_->Heartbeat("a", {{job, lease_a[0].token, 0.9, true}});
  ASSERT_EQ(hb->cancel_job_ids.size(), 1u) << "the stale holder is told to stop";
  EXPECT_TRUE(Complete("b", lease_b[0]).accepted);
  auto j = store_->GetJob(job);
  EXPECT_EQ(j->state, storage::JobState::kSucceeded);
  EXPECT_EQ(j->attempts, 1);  // the expired lease was the lost worker's failure, not the job's
  EXPECT_EQ(j->infra_failures, 1);
  EXPECT_EQ(store_->GetMetrics(job)->size(), 1u);
}

// Finding expired leases costs the leases' deadlines, not the queue: 100,000 pending jobs are
// never looked at, however often the reaper runs.
TEST_F(SchedulerTest, LeaseExpiryLooksOnlyAtLeaseDeadlines) {
  Register("a", {kCpu}, /*slots=*/2);
  Submit("big", 100000);
  auto leases = Acquire("a", 2);
  ASSERT_EQ(leases.size(), 2u);
  for (int tick = 0; tick < 50; ++tick) {
    clock_.AdvanceMs(10);
    EXPECT_EQ(*scheduler_->ExpireLeases(), 0);
  }
  EXPECT_EQ(scheduler_->counters().lease_deadlines_examined, 0) << "no deadline has passed";
  // Heartbeats move the deadlines; the old entries are dropped when they come up, not acted on.
  ASSERT_TRUE(scheduler_->Heartbeat("a", {{leases[0].job_id, leases[0].token, 0.1, true},
                                          {leases[1].job_id, leases[1].token, 0.1, true}}).ok());
  clock_.AdvanceMs(800);  // past the first deadlines, before the extended ones
  EXPECT_EQ(*scheduler_->ExpireLeases(), 0);
  EXPECT_EQ(scheduler_->counters().lease_deadlines_examined, 2);
  // A completed lease leaves a stale deadline that expires nothing.
  EXPECT_TRUE(Complete("a", leases[0]).accepted);
  clock_.AdvanceMs(1000);
  EXPECT_EQ(*scheduler_->ExpireLeases(), 1) << "only the lease that stopped heartbeating";
  EXPECT_EQ(scheduler_->counters().lease_deadlines_examined, 4);
  EXPECT_EQ(store_->GetJob(leases[1].job_id)->state, storage::JobState::kPending);
  EXPECT_EQ(store_->GetJob(leases[0].job_id)->state, storage::JobState::kSucceeded);
}

// A job that crashes its evaluator is retried, then FAILED as poison after max_attempts.
TEST_F(SchedulerTest, CrashesEndAsPoisonAfterMaxAttempts) {
  Register("a", {kCpu});
  int64_t job = Submit("e", 1, {}, 0, /*max_attempts=*/2);
  for (int i = 0; i < 2; ++i) {
    auto leases = Acquire("a");
    ASSERT_EQ(leases.size(), 1u) << "attempt " << i + 1;
    storage::CompletionRecord c{leases[0].job_id, leases[0].token,
                                storage::CompletionOutcome::kFailed,
                                "ABORTED: the evaluator was killed by SIGSEGV", "crash"};
    auto acks = scheduler_->Complete("a", {c});
    ASSERT_TRUE(acks.ok());
    EXPECT_EQ((*acks)[0].new_state, i == 0 ? storage::JobState::kPending : storage::JobState::kFailed);
  }
  auto j = store_->GetJob(job);
  EXPECT_EQ(j->state, storage::JobState::kFailed);
  EXPECT_EQ(j->failure_class, "poison");
  EXPECT_EQ(j->attempts, 2);
  EXPECT_TRUE(Acquire("a").empty());
}

// Lost workers do not spend max_attempts; a job is FAILED only after the server's limit of
// infrastructure failures (10 by default).
TEST_F(SchedulerTest, ExpiriesFailAJobOnlyAtTheInfrastructureLimit) {
  Register("a", {kCpu});
  int64_t job = Submit("e", 1, {}, 0, /*max_attempts=*/2);
  for (int i = 0; i < 10; ++i) {
    ASSERT_EQ(Acquire("a").size(), 1u) << "lease " << i + 1;
    clock_.AdvanceMs(2000);
    Register("a", {kCpu});  // keep the worker live
    EXPECT_EQ(*scheduler_->ExpireLeases(), 1);
  }
  auto j = store_->GetJob(job);
  EXPECT_EQ(j->state, storage::JobState::kFailed);
  EXPECT_EQ(j->failure_class, "infrastructure");
  EXPECT_EQ(j->attempts, 0);
  EXPECT_NE(j->last_error.find("10 attempts lost to infrastructure"), std::string::npos)
      << j->last_error;
  EXPECT_TRUE(Acquire("a").empty());
}

TEST_F(SchedulerTest, CancelRunningJobTellsWorkerAndRejectsItsResult) {
  Register("a", {kCpu});
  int64_t job = Submit("e", 2);
  auto leases = Acquire("a");
  ASSERT_EQ(leases.size(), 1u);
  auto cancelled = scheduler_->Cancel(0, "e");
  ASSERT_EQ(cancelled->size(), 2u);
  auto hb = scheduler_->Heartbeat("a", {});
  ASSERT_EQ(hb->cancel_job_ids.size(), 1u);
  EXPECT_EQ(hb->cancel_job_ids[0], job);
  EXPECT_FALSE(Complete("a", leases[0]).accepted);
  EXPECT_TRUE(Acquire("a").empty());
}

TEST_F(SchedulerTest, RestartKeepsLeasesLiveAndQueuesPending) {
  Register("a", {kCpu}, 1);
  int64_t first = Submit("e", 3);
  auto lease = Acquire("a");
  ASSERT_EQ(lease.size(), 1u);
  Reopen();
  // The worker that held a lease across the restart can still complete it.
  EXPECT_TRUE(Complete("a", lease[0]).accepted);
  Register("a", {kCpu}, 1);
  auto next = Acquire("a");
  ASSERT_EQ(next.size(), 1u);
  EXPECT_EQ(next[0].job_id, first + 1);
  EXPECT_GT(next[0].token, lease[0].token) << "tokens keep increasing across restarts";
}

TEST_F(SchedulerTest, LongPollWakesOnSubmission) {
  Register("a", {kCpu});
  std::thread submitter([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    Submit("late", 1);
  });
  auto leases = scheduler_->AcquireLeases("a", 1, 5000);
  submitter.join();
  ASSERT_TRUE(leases.ok());
  EXPECT_EQ(leases->size(), 1u);
}

TEST_F(SchedulerTest, UnknownWorkerMustRegister) {
  EXPECT_EQ(scheduler_->AcquireLeases("ghost", 1, 0).status().code(), StatusCode::kNotFound);
  EXPECT_EQ(scheduler_->Heartbeat("ghost", {}).status().code(), StatusCode::kNotFound);
}

}  // namespace
}  // namespace qlab::server
