// Thin RAII wrapper over the SQLite C API with qlab::Status errors.
//
// A Connection is used by one thread at a time (SQLite's "multi-thread" mode); the coordinator
// gives its single writer thread one connection and each reader its own (see WriteQueue,
// ReadPool). Statements are cached per connection by SQL text.
#pragma once

#include <sqlite3.h>

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace qlab::storage {

class Statement {
 public:
  Statement(sqlite3* db, sqlite3_stmt* stmt) : db_(db), stmt_(stmt) {}
  Statement(const Statement&) = delete;
  Statement& operator=(const Statement&) = delete;

  // Bind by 1-based index. Text and blobs are copied (SQLITE_TRANSIENT).
  Statement& Bind(int index, int64_t value);
  Statement& Bind(int index, int value) { return Bind(index, static_cast<int64_t>(value)); }
  Statement& Bind(int index, double value);
  Statement& Bind(int index, std::string_view text);
  Statement& Bind(int index, const char* text) { return Bind(index, std::string_view(text)); }
  Statement& BindBlob(int index, const void* data, size_t size_bytes);
  Statement& BindNull(int index);
  // 1-based index of a named parameter (":name"), 0 when the statement has none by that name.
  int ParamIndex(const char* name) const { return sqlite3_bind_parameter_index(stmt_, name); }

  // Advances: returns true with a row, false when done; an error Status on failure.
  StatusOr<bool> Step();
  // Runs a statement that returns no rows to completion.
  Status Run();

  int64_t Int(int col) const { return sqlite3_column_int64(stmt_, col); }
  double Double(int col) const { return sqlite3_column_double(stmt_, col); }
  std::string Text(int col) const;
  std::string Blob(int col) const;
  bool IsNull(int col) const { return sqlite3_column_type(stmt_, col) == SQLITE_NULL; }

  // Resets bindings and cursor so the statement can run again.
  void Reset();

 private:
  sqlite3* db_;
  sqlite3_stmt* stmt_;
};

// RESOURCE_EXHAUSTED for SQLITE_FULL: the disk is full or `PRAGMA max_page_count` is reached.
// Submissions get it; reads go on; writes succeed again once there is room.
Status DatabaseFull(const std::string& detail);

class Connection;

// Caps the database file at about `max_bytes` (PRAGMA max_page_count, never below its current
// size): past it writes fail as DatabaseFull. A per-connection setting: run it on the writer.
Status LimitDatabaseSize(Connection& conn, int64_t max_bytes);

class Connection {
 public:
  // Opens (creating when `create`) the database file with WAL, busy_timeout and foreign keys.
  static StatusOr<std::unique_ptr<Connection>> Open(const std::string& path, bool create,
                                                    bool read_only = false);
  ~Connection();
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  // Runs one or more statements without results.
  Status Exec(std::string_view sql);
  // Returns a cached, reset statement for `sql`. Valid until the connection closes; do not
  // use two results of the same SQL text at once.
  StatusOr<Statement*> Prepare(const std::string& sql);
  int64_t Changes() const { return sqlite3_changes64(db_); }
  int64_t LastInsertRowId() const { return sqlite3_last_insert_rowid(db_); }
  sqlite3* raw() { return db_; }
  Status Error(std::string_view what) const;
  // False after SQLite rolled back the whole transaction by itself (it may on a full disk).
  bool InTransaction() const;

 private:
  explicit Connection(sqlite3* db) : db_(db) {}
  sqlite3* db_;
  std::map<std::string, std::unique_ptr<Statement>> cache_;
  std::vector<sqlite3_stmt*> raw_statements_;
};

}  // namespace qlab::storage
