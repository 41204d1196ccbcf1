// Numbered schema migrations (storage/migrations/NNNN_*.sql), applied at start-up.
//
// The schema version is `PRAGMA user_version`. Each migration runs in its own transaction
// together with the version bump, so a crash leaves the file at a whole version. A database
// newer than this binary is refused rather than guessed at.
#pragma once

#include <string>
#include <vector>

#include "common/status.h"
#include "storage/sqlite.h"

namespace qlab::storage {

struct Migration {
  int version;      // 1, 2, ... (the file's NNNN prefix)
  std::string name; // file name
  std::string sql;
};

// The migrations compiled into this binary, ordered by version, versions 1..N without gaps.
const std::vector<Migration>& AllMigrations();

// Brings the database to the newest version. Returns FAILED_PRECONDITION when the file's
// version is newer than the code's, INTERNAL when a migration fails (the file keeps the last
// whole version).
Status Migrate(Connection& conn);

// The file's current schema version (0 for a new file).
StatusOr<int> SchemaVersion(Connection& conn);

}  // namespace qlab::storage
