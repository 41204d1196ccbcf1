#include "storage/write_queue.h"

#include <gtest/gtest.h>

#include <atomic>
#include <thread>
#include <vector>

#include "tests/support/temp_dir.h"

namespace qlab::storage {
namespace {

TEST(WriteQueueTest, FailedClosureRollsBackOnlyItsOwnChanges) {
  testing::TempDir dir;
  std::string path = dir.File("w.db");
  {
    auto conn = Connection::Open(path, true);
    ASSERT_TRUE(conn.ok());
    ASSERT_TRUE((*conn)->Exec("CREATE TABLE t(v INTEGER)").ok());
  }
  auto conn = Connection::Open(path, false);
  ASSERT_TRUE(conn.ok());
  WriteQueue queue(std::move(conn).value());
  std::atomic<int> batches{0};
  queue.SetCommitObserver([&](int, double) { batches++; });

  std::vector<std::thread> threads;
  std::atomic<int> failures{0};
  for (int i = 0; i < 64; ++i) {
    threads.emplace_back([&, i] {
      Status st = queue.Run([i](Connection& c) -> Status {
        RETURN_IF_ERROR(c.Exec("INSERT INTO t VALUES (" + std::to_string(i) + ")"));
        if (i % 4 == 0) return Status::InvalidArgument("rejected");
        return Status::Ok();
      });
      if (!st.ok()) failures++;
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(failures.load(), 16);
  EXPECT_GE(batches.load(), 1);
  EXPECT_LE(batches.load(), 64);

  auto reader = Connection::Open(path, false, true);
  auto* s = *(*reader)->Prepare("SELECT COUNT(*), SUM(v % 4 = 0) FROM t");
  ASSERT_TRUE(*s->Step());
  EXPECT_EQ(s->Int(0), 48);
  EXPECT_EQ(s->Int(1), 0);
}

TEST(WriteQueueTest, RunAfterShutdownIsUnavailable) {
  testing::TempDir dir;
  auto conn = Connection::Open(dir.File("w.db"), true);
  ASSERT_TRUE(conn.ok());
  WriteQueue queue(std::move(conn).value());
  queue.Shutdown();
  EXPECT_EQ(queue.Run([](Connection&) { return Status::Ok(); }).code(), StatusCode::kUnavailable);
}

}  // namespace
}  // namespace qlab::storage
