#include "storage/migrations.h"

#include <gtest/gtest.h>

#include "tests/support/temp_dir.h"

namespace qlab::storage {
namespace {

TEST(MigrationsTest, VersionsAreConsecutiveFromOne) {
  const auto& all = AllMigrations();
  ASSERT_FALSE(all.empty());
  for (size_t i = 0; i < all.size(); ++i) EXPECT_EQ(all[i].version, static_cast<int>(i) + 1);
}

TEST(MigrationsTest, NewFileMigratesToNewestAndIsIdempotent) {
  testing::TempDir dir;
  auto conn = Connection::Open(dir.File("a.db"), true);
  ASSERT_TRUE(conn.ok()) << conn.status().ToString();
  ASSERT_TRUE(Migrate(**conn).ok());
  EXPECT_EQ(*SchemaVersion(**conn), static_cast<int>(AllMigrations().size()));
  ASSERT_TRUE(Migrate(**conn).ok());  // a second start changes nothing
  EXPECT_EQ(*SchemaVersion(**conn), static_cast<int>(AllMigrations().size()));
  // Every table of the design exists.
  for (const char* table : {"experiment", "job", "attempt", "worker", "result", "latency_sample",
                            "artifact"}) {
    auto* s = *(*conn)->Prepare("SELECT COUNT(*) FROM sqlite_master WHERE name=?");
    s->Bind(1, table);
    ASSERT_TRUE(*s->Step());
    EXPECT_EQ(s->Int(0), 1) << table;
    s->Reset();
  }
}

TEST(MigrationsTest, RefusesDatabaseNewerThanCode) {
  testing::TempDir dir;
  auto conn = Connection::Open(dir.File("a.db"), true);
  ASSERT_TRUE(conn.ok());
  ASSERT_TRUE((*conn)->Exec("PRAGMA user_version = 999").ok());
  Status st = Migrate(**conn);
  EXPECT_EQ(st.code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(st.message().find("newer"), std::string::npos);
}

TEST(MigrationsTest, FailedMigrationLeavesFileAtWholeVersion) {
  testing::TempDir dir;
  auto conn = Connection::Open(dir.File("a.db"), true);
  ASSERT_TRUE(conn.ok());
  // A table that collides with migration 1 makes it fail half-way; nothing of it may remain.
  ASSERT_TRUE((*conn)->Exec("CREATE TABLE artifact(x)").ok());
  EXPECT_FALSE(Migrate(**conn).ok());
  EXPECT_EQ(*SchemaVersion(**conn), 0);
  auto* s = *(*conn)->Prepare("SELECT COUNT(*) FROM sqlite_master WHERE name='job'");
  ASSERT_TRUE(*s->Step());
  EXPECT_EQ(s->Int(0), 0);
}

}  // namespace
}  // namespace qlab::storage

namespace qlab::storage {
namespace {

// A database as version 1 wrote it, with data, migrates to the newest version intact.
TEST(MigrationsTest, VersionOneDatabaseWithDataMigrates) {
  testing::TempDir dir;
  auto conn = Connection::Open(dir.File("v1.db"), true);
  ASSERT_TRUE(conn.ok());
  const Migration& v1 = AllMigrations()[0];
  ASSERT_TRUE((*conn)->Exec(v1.sql).ok());
  ASSERT_TRUE((*conn)->Exec("PRAGMA user_version = 1").ok());
  ASSERT_TRUE((*conn)->Exec("INSERT INTO experiment(name, kind, created_unix_ms, spec_json) "
                            "VALUES ('old', 'noop', 1, '{}');"
                            "INSERT INTO job(experiment_id, kind, params_json, state, max_attempts, "
                            "created_unix_ms) VALUES (1, 'noop', '{}', 4, 3, 1);"
                            "INSERT INTO result(job_id, name, value) VALUES (1, 'mse', 0.5);").ok());
  ASSERT_TRUE(Migrate(**conn).ok());
  EXPECT_EQ(*SchemaVersion(**conn), static_cast<int>(AllMigrations().size()));
  auto* s = *(*conn)->Prepare("SELECT value FROM result WHERE job_id = 1 AND name = 'mse'");
  ASSERT_TRUE(*s->Step());
  EXPECT_EQ(s->Double(0), 0.5);
  s->Reset();
  auto* index = *(*conn)->Prepare(
      "SELECT COUNT(*) FROM sqlite_master WHERE type = 'index' AND name = 'job_by_experiment_id'");
  ASSERT_TRUE(*index->Step());
  EXPECT_EQ(index->Int(0), 1);
}

}  // namespace
}  // namespace qlab::storage
