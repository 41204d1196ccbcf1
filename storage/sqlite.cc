#include "storage/sqlite.h"

#include <algorithm>

namespace qlab::storage {

Statement& Statement::Bind(int index, int64_t value) {
  sqlite3_bind_int64(stmt_, index, value);
  return *this;
}
Statement& Statement::Bind(int index, double value) {
  sqlite3_bind_double(stmt_, index, value);
  return *this;
}
Statement& Statement::Bind(int index, std::string_view text) {
  sqlite3_bind_text(stmt_, index, text.data(), static_cast<int>(text.size()), SQLITE_TRANSIENT);
  return *this;
}
Statement& Statement::BindBlob(int index, const void* data, size_t size_bytes) {
  sqlite3_bind_blob64(stmt_, index, data, size_bytes, SQLITE_TRANSIENT);
  return *this;
}
Statement& Statement::BindNull(int index) {
  sqlite3_bind_null(stmt_, index);
  return *this;
}

Status DatabaseFull(const std::string& detail) {
  return Status::ResourceExhausted("the database or its disk is full; nothing was written (" +
                                   detail + ")");
}

StatusOr<bool> Statement::Step() {
  int rc = sqlite3_step(stmt_);
  if (rc == SQLITE_ROW) return true;
  if (rc == SQLITE_DONE) return false;
  Status error = Status::Internal(std::string("sqlite: ") + sqlite3_errmsg(db_) + " in: " +
                                  sqlite3_sql(stmt_));
  if (rc == SQLITE_BUSY || rc == SQLITE_LOCKED) error = Status::Unavailable(error.message());
  if (rc == SQLITE_CONSTRAINT) error = Status::AlreadyExists(error.message());
  if (rc == SQLITE_FULL) error = DatabaseFull(error.message());
  return error;
}

Status Statement::Run() {
  ASSIGN_OR_RETURN(bool row, Step());
  (void)row;
  Reset();
  return Status::Ok();
}

std::string Statement::Text(int col) const {
  const unsigned char* p = sqlite3_column_text(stmt_, col);
  if (p == nullptr) return {};
  return std::string(reinterpret_cast<const char*>(p), sqlite3_column_bytes(stmt_, col));
}

std::string Statement::Blob(int col) const {
  const void* p = sqlite3_column_blob(stmt_, col);
  if (p == nullptr) return {};
  return std::string(static_cast<const char*>(p), sqlite3_column_bytes(stmt_, col));
}

void Statement::Reset() {
  sqlite3_reset(stmt_);
  sqlite3_clear_bindings(stmt_);
}

StatusOr<std::unique_ptr<Connection>> Connection::Open(const std::string& path, bool create,
                                                       bool read_only) {
  sqlite3* db = nullptr;
  int flags = SQLITE_OPEN_NOMUTEX;
  flags |= read_only ? SQLITE_OPEN_READONLY : SQLITE_OPEN_READWRITE;
  if (create && !read_only) flags |= SQLITE_OPEN_CREATE;
  int rc = sqlite3_open_v2(path.c_str(), &db, flags, nullptr);
  if (rc != SQLITE_OK) {
    std::string message = db ? sqlite3_errmsg(db) : sqlite3_errstr(rc);
    sqlite3_close(db);
    return Status::Unavailable("cannot open database " + path + ": " + message);
  }
  std::unique_ptr<Connection> conn(new Connection(db));
  sqlite3_busy_timeout(db, 5000);
  // WAL lets readers run beside the one writer; synchronous=NORMAL in WAL mode survives any
  // process crash (only an OS crash or power loss can lose the last commits).
  if (!read_only) RETURN_IF_ERROR(conn->Exec("PRAGMA journal_mode=WAL"));
  RETURN_IF_ERROR(conn->Exec("PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=ON;"));
  return conn;
}

Status LimitDatabaseSize(Connection& conn, int64_t max_bytes) {
  ASSIGN_OR_RETURN(Statement * page_size, conn.Prepare("PRAGMA page_size"));
  ASSIGN_OR_RETURN(bool row, page_size->Step());
  if (!row || page_size->Int(0) <= 0) return conn.Error("PRAGMA page_size");
  const int64_t pages = std::max<int64_t>(1, max_bytes / page_size->Int(0));
  page_size->Reset();
  return conn.Exec("PRAGMA max_page_count = " + std::to_string(pages));
}

bool Connection::InTransaction() const { return sqlite3_get_autocommit(db_) == 0; }

Connection::~Connection() {
  cache_.clear();
  for (sqlite3_stmt* s : raw_statements_) sqlite3_finalize(s);
  sqlite3_close(db_);
}

Status Connection::Error(std::string_view what) const {
  return Status::Internal(std::string(what) + ": " + sqlite3_errmsg(db_));
}

Status Connection::Exec(std::string_view sql) {
  char* err = nullptr;
  int rc = sqlite3_exec(db_, std::string(sql).c_str(), nullptr, nullptr, &err);
  if (rc != SQLITE_OK) {
    std::string message = err ? err : sqlite3_errstr(rc);
    sqlite3_free(err);
    if (rc == SQLITE_BUSY || rc == SQLITE_LOCKED) return Status::Unavailable("sqlite: " + message);
    if (rc == SQLITE_FULL) return DatabaseFull("sqlite: " + message);
    return Status::Internal("sqlite: " + message);
  }
  return Status::Ok();
}

StatusOr<Statement*> Connection::Prepare(const std::string& sql) {
  auto it = cache_.find(sql);
  if (it != cache_.end()) {
    it->second->Reset();
    return it->second.get();
  }
  sqlite3_stmt* stmt = nullptr;
  if (sqlite3_prepare_v3(db_, sql.c_str(), -1, SQLITE_PREPARE_PERSISTENT, &stmt, nullptr) !=
      SQLITE_OK) {
    return Error("prepare failed for: " + sql);
  }
  raw_statements_.push_back(stmt);
  auto owned = std::make_unique<Statement>(db_, stmt);
  Statement* result = owned.get();
  cache_.emplace(sql, std::move(owned));
  return result;
}

}  // namespace qlab::storage
