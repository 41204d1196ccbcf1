#include "storage/backup.h"

#include <gtest/gtest.h>

#include "storage/job_store.h"
#include "tests/support/temp_dir.h"

namespace qlab::storage {
namespace {

TEST(BackupTest, CopiesALiveDatabaseAndNeverOverwrites) {
  testing::TempDir dir;
  auto store = JobStore::Open(dir.File("live.db"));
  ASSERT_TRUE(store.ok());
  ExperimentRecord e;
  e.name = "kept";
  e.kind = "noop";
  ASSERT_TRUE((*store)->CreateExperiment(e, std::vector<JobSpec>(7, JobSpec{"noop", "{}"}), 1).ok());
  // The store stays open, as a running coordinator's would.
  ASSERT_TRUE(BackupDatabase(dir.File("live.db"), dir.File("copy.db")).ok());
  EXPECT_EQ(BackupDatabase(dir.File("live.db"), dir.File("copy.db")).code(),
            StatusCode::kAlreadyExists);
  auto copy = JobStore::Open(dir.File("copy.db"));
  ASSERT_TRUE(copy.ok());
  EXPECT_EQ((*copy)->GetExperiment("kept", 0)->total, 7);
  EXPECT_EQ(BackupDatabase(dir.File("missing/x.db"), dir.File("y.db")).code(),
            StatusCode::kUnavailable);
}

}  // namespace
}  // namespace qlab::storage
