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
