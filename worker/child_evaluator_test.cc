// ChildExecutors against the real qlab-evaluate: whatever the child does, the executor returns
// a Status that says what happened, and the calling process goes on.
#include "worker/child_evaluator.h"

#include <stdlib.h>

#include <chrono>
#include <filesystem>
#include <thread>

#include <gtest/gtest.h>

namespace qlab::worker {
namespace {

using namespace std::chrono_literals;

class ChildEvaluatorTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string dir = (std::filesystem::temp_directory_path() / "qlab-child-XXXXXX").string();
    ASSERT_NE(mkdtemp(dir.data()), nullptr);
    work_dir_ = dir;
  }
  void TearDown() override {
    std::error_code ec;
    std::filesystem::remove_all(work_dir_, ec);
  }

  StatusOr<JobOutput> Run(const std::string& kind, const std::string& params, JobContext& context,
                          int timeout_s = 0, uint64_t memory_limit = 0) {
    ChildEvaluatorOptions options;
    options.evaluator_path = QLAB_EVALUATE_PATH;
    options.work_dir = work_dir_;
    options.memory_limit_bytes = memory_limit;
    auto executors = ChildExecutors(options, {kind}, {});
    LeasedJob job{7, 11, kind, params, "cpu", "child-test", timeout_s};
    return executors.at(kind)->Execute(job, context);
  }

  StatusOr<JobOutput> Run(const std::string& kind, const std::string& params, int timeout_s = 0,
                          uint64_t memory_limit = 0) {
    return Run(kind, params, context_, timeout_s, memory_limit);
  }

  std::string work_dir_;
  JobContext context_;
};

TEST_F(ChildEvaluatorTest, DescribeListsTheKindsOfTheBuild) {
  auto d = DescribeEvaluator(QLAB_EVALUATE_PATH);
  ASSERT_TRUE(d.ok()) << d.status().ToString();
  for (const char* kind : {"noop", "quantize", "kernel_bench"}) {
    EXPECT_NE(std::find(d->kinds.begin(), d->kinds.end(), kind), d->kinds.end()) << kind;
  }
  EXPECT_FALSE(DescribeEvaluator("/nonexistent/qlab-evaluate").ok());
}

TEST_F(ChildEvaluatorTest, AJobsOutputComesBackWhole) {
  auto out = Run("noop", R"({"duration_ms": 5, "metrics": {"a": 1.5, "b": -2}})");
  ASSERT_TRUE(out.ok()) << out.status().ToString();
  ASSERT_EQ(out->metrics.size(), 3u);
  EXPECT_EQ(out->metrics[0].name, "duration_ms");
  EXPECT_EQ(out->metrics[1].name, "a");
  EXPECT_DOUBLE_EQ(out->metrics[1].value, 1.5);
  EXPECT_DOUBLE_EQ(out->metrics[2].value, -2);
  // Nothing of the attempt is left behind.
  EXPECT_TRUE(std::filesystem::is_empty(work_dir_));
}

TEST_F(ChildEvaluatorTest, QuantizeRunsInTheChild) {
  auto out = Run("quantize", R"({"datatype": "int4_sym", "distribution": "gaussian",
                                 "shape": [128, 128], "seed": 1})");
  ASSERT_TRUE(out.ok()) << out.status().ToString();
  bool has_mse = false;
  for (const auto& m : out->metrics) has_mse |= m.name == "mse" && m.value > 0;
  EXPECT_TRUE(has_mse);
}

TEST_F(ChildEvaluatorTest, TheJobsOwnErrorIsAJobError) {
  auto out = Run("noop", R"({"fail": true})");
  ASSERT_FALSE(out.ok());
  EXPECT_EQ(out.status().code(), StatusCode::kInternal);
  EXPECT_EQ(out.status().message(), "noop job asked to fail");
  EXPECT_STREQ(FailureClassOf(out.status()), "job_error");
}

TEST_F(ChildEvaluatorTest, ASegfaultIsACrashNamingTheSignal) {
  auto out = Run("noop", R"({"fault": "segv"})");
  ASSERT_FALSE(out.ok());
  EXPECT_STREQ(FailureClassOf(out.status()), "crash");
  EXPECT_NE(out.status().message().find("SIGSEGV"), std::string::npos) << out.status().message();
  EXPECT_NE(context_.LogTail().find("injecting fault 'segv'"), std::string::npos)
      << context_.LogTail();
}

TEST_F(ChildEvaluatorTest, AnAbortIsACrash) {
  auto out = Run("noop", R"({"fault": "abort"})");
  ASSERT_FALSE(out.ok());
  EXPECT_STREQ(FailureClassOf(out.status()), "crash");
  EXPECT_NE(out.status().message().find("SIGABRT"), std::string::npos) << out.status().message();
}

TEST_F(ChildEvaluatorTest, AnUnexpectedExitCodeIsACrash) {
  auto out = Run("noop", R"({"fault": "exit"})");
  ASSERT_FALSE(out.ok());
  EXPECT_STREQ(FailureClassOf(out.status()), "crash");
  EXPECT_NE(out.status().message().find("exited with code 7"), std::string::npos)
      << out.status().message();
}

TEST_F(ChildEvaluatorTest, AHangIsKilledAtTimeout) {
  const auto start = std::chrono::steady_clock::now();
  auto out = Run("noop", R"({"fault": "hang"})", /*timeout_s=*/1);
  ASSERT_FALSE(out.ok());
  EXPECT_EQ(out.status().code(), StatusCode::kDeadlineExceeded);
  EXPECT_NE(out.status().message().find("timeout_s"), std::string::npos);
  EXPECT_STREQ(FailureClassOf(out.status()), "job_error");
  EXPECT_LT(std::chrono::steady_clock::now() - start, 30s);
}

TEST_F(ChildEvaluatorTest, MemoryPastTheLimitIsKilled) {
  auto out = Run("noop", R"({"fault": "oom"})", 0, /*memory_limit=*/256ull << 20);
  ASSERT_FALSE(out.ok());
  EXPECT_STREQ(FailureClassOf(out.status()), "crash");
  // Killed by the watch (names the limit) or by the address-space backstop (out of memory).
  const std::string& m = out.status().message();
  EXPECT_TRUE(m.find("memory limit (") != std::string::npos ||
              m.find("out of memory") != std::string::npos) << m;
}

TEST_F(ChildEvaluatorTest, CancellingKillsTheChild) {
  JobContext context;
  std::thread canceller([&] {
    std::this_thread::sleep_for(300ms);
    context.Cancel();
  });
  auto out = Run("noop", R"({"fault": "hang"})", context);
  canceller.join();
  ASSERT_FALSE(out.ok());
  EXPECT_EQ(out.status().code(), StatusCode::kCancelled);
}

TEST_F(ChildEvaluatorTest, ProgressReachesTheContext) {
  auto out = Run("quantize", R"({"datatype": "nf4", "distribution": "gaussian", "shape": [256, 256]})");
  ASSERT_TRUE(out.ok()) << out.status().ToString();
  EXPECT_GT(context_.progress(), 0.0);
}

TEST_F(ChildEvaluatorTest, NoopFaultsRunInTheChildAndOrdinaryNoopsInProcess) {
  ChildEvaluatorOptions options;
  options.evaluator_path = QLAB_EVALUATE_PATH;
  options.work_dir = work_dir_;
  auto children = ChildExecutors(options, {"noop"}, {});
  auto in_process = BuiltInExecutors(false);
  auto routed = NoopWithFaultsInChild(std::move(in_process.at("noop")), std::move(children.at("noop")));
  JobContext a, b;
  auto crashed = routed->Execute(LeasedJob{1, 1, "noop", R"({"fault": "abort"})", "cpu", "e"}, a);
  ASSERT_FALSE(crashed.ok());
  EXPECT_STREQ(FailureClassOf(crashed.status()), "crash");  // and this process is still here
  auto fine = routed->Execute(LeasedJob{2, 2, "noop", R"({"duration_ms": 1})", "cpu", "e"}, b);
  EXPECT_TRUE(fine.ok());
  EXPECT_TRUE(b.LogTail().empty());  // no child: nothing printed
}

TEST(MemorySizeTest, ParsesUnitsAndPercentagesAndRefusesTheRest) {
  EXPECT_EQ(*ParseMemorySize("0"), 0u);
  EXPECT_EQ(*ParseMemorySize("1048576"), 1048576u);
  EXPECT_EQ(*ParseMemorySize("512M"), 512ull << 20);
  EXPECT_EQ(*ParseMemorySize("8G"), 8ull << 30);
  EXPECT_EQ(*ParseMemorySize("1.5G"), 3ull << 29);
  EXPECT_GT(*ParseMemorySize("50%"), 0u);
  for (const char* bad : {"", "G", "-1G", "12X", "150%", "nan", "1e30"}) {
    EXPECT_FALSE(ParseMemorySize(bad).ok()) << bad;
  }
  EXPECT_GT(DefaultJobMemoryLimit(2), 0u);
  EXPECT_EQ(DefaultJobMemoryLimit(4) * 2 / 1000, DefaultJobMemoryLimit(2) / 1000);
}

}  // namespace
}  // namespace qlab::worker
