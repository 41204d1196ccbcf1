#include "storage/migrations.h"

#include <string>

namespace qlab::storage {

StatusOr<int> SchemaVersion(Connection& conn) {
  ASSIGN_OR_RETURN(Statement * stmt, conn.Prepare("PRAGMA user_version"));
  ASSIGN_OR_RETURN(bool row, stmt->Step());
  int version = row ? static_cast<int>(stmt->Int(0)) : 0;
  stmt->Reset();
  return version;
}

Status Migrate(Connection& conn) {
  const auto& migrations = AllMigrations();
  const int newest = static_cast<int>(migrations.size());
  ASSIGN_OR_RETURN(int current, SchemaVersion(conn));
  if (current > newest) {
    return Status::FailedPrecondition("database schema version " + std::to_string(current) +
                                      " is newer than this qlab (knows up to " +
                                      std::to_string(newest) + "); upgrade qlab");
  }
  for (const Migration& m : migrations) {
    if (m.version <= current) continue;
    RETURN_IF_ERROR(conn.Exec("BEGIN IMMEDIATE"));
    Status status = conn.Exec(m.sql);
    if (status.ok()) status = conn.Exec("PRAGMA user_version = " + std::to_string(m.version));
    if (status.ok()) status = conn.Exec("COMMIT");
    if (!status.ok()) {
      (void)conn.Exec("ROLLBACK");
      return Status::Internal("migration " + m.name + " failed: " + status.message());
    }
  }
  return Status::Ok();
}

}  // namespace qlab::storage
