#include "storage/backup.h"

#include <sqlite3.h>
#include <unistd.h>

#include <cstdio>

namespace qlab::storage {

Status BackupDatabase(const std::string& from, const std::string& to) {
  if (access(to.c_str(), F_OK) == 0) {
    return Status::AlreadyExists("backup target " + to + " exists; choose a new file");
  }
  sqlite3* src = nullptr;
  if (sqlite3_open_v2(from.c_str(), &src, SQLITE_OPEN_READONLY, nullptr) != SQLITE_OK) {
    std::string message = src ? sqlite3_errmsg(src) : "out of memory";
    sqlite3_close(src);
    return Status::Unavailable("cannot open database " + from + ": " + message);
  }
  sqlite3_busy_timeout(src, 5000);
  sqlite3* dst = nullptr;
  Status status;
  if (sqlite3_open_v2(to.c_str(), &dst, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, nullptr) !=
      SQLITE_OK) {
    status = Status::Internal("cannot create " + to + ": " + sqlite3_errmsg(dst));
  } else if (sqlite3_backup* b = sqlite3_backup_init(dst, "main", src, "main")) {
    // Small steps let a running coordinator keep writing between them.
    int rc;
    while ((rc = sqlite3_backup_step(b, 256)) == SQLITE_OK || rc == SQLITE_BUSY ||
           rc == SQLITE_LOCKED) {
      if (rc != SQLITE_OK) sqlite3_sleep(20);
    }
    sqlite3_backup_finish(b);
    if (rc != SQLITE_DONE) status = Status::Internal(std::string("backup failed: ") + sqlite3_errstr(rc));
  } else {
    status = Status::Internal(std::string("backup failed: ") + sqlite3_errmsg(dst));
  }
  sqlite3_close(dst);
  sqlite3_close(src);
  if (!status.ok()) std::remove(to.c_str());
  return status;
}

}  // namespace qlab::storage
