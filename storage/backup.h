// Online backup of the coordinator's database with SQLite's backup API: consistent even while
// a coordinator is writing to the file (WAL readers do not block the writer).
#pragma once

#include <string>

#include "common/status.h"

namespace qlab::storage {

// Copies database `from` to a new file `to` page by page. Errors: UNAVAILABLE when `from`
// cannot be opened, ALREADY_EXISTS when `to` exists (a backup never overwrites), INTERNAL on
// a failed copy (the partial `to` is removed).
Status BackupDatabase(const std::string& from, const std::string& to);

}  // namespace qlab::storage
