// Fuzzes the filter expressions of the HTTP API and `qlab results --filter`
// (storage/filter_expression.h). Invariant: an accepted filter compiles to SQL that SQLite
// prepares and runs against the real schema (migrations applied), with exactly the named
// parameters it binds: user text only ever reaches the database as a bound value.
#include <sqlite3.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <set>
#include <string>
#include <variant>

#include "storage/filter_expression.h"
#include "storage/migrations.h"
#include "storage/sqlite.h"
#include "tests/fuzz/fuzz_support.h"

namespace {

using qlab::storage::Connection;

// One database for the whole run: the schema and one job with params and metrics.
Connection& Database() {
  static Connection* db = [] {
    const std::string path = (qlab::fuzz::ScratchDir() / "filter.db").string();
    auto conn = Connection::Open(path, /*create=*/true);
    QLAB_FUZZ_CHECK(conn.ok(), conn.status().message());
    QLAB_FUZZ_CHECK(qlab::storage::Migrate(**conn).ok(), "migrate");
    const qlab::Status s = (*conn)->Exec(
        "INSERT INTO experiment(id, name, kind, created_unix_ms, spec_json) "
        "VALUES (1, 'w4', 'quantize', 0, '{}');"
        "INSERT INTO job(id, experiment_id, kind, params_json, state, max_attempts, worker_id, "
        "created_unix_ms) VALUES (1, 1, 'quantize', "
        "'{\"datatype\": \"e2m1\", \"group_size\": 32, \"a.b\": [1, 2], \"c\": {\"d\": null}}', "
        "3, 3, 'w-1', 0);"
        "INSERT INTO result(job_id, name, value) VALUES (1, 'mse', 0.001), (1, 'sqnr_db', 20);");
    QLAB_FUZZ_CHECK(s.ok(), s.message());
    return conn->release();
  }();
  return *db;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size > qlab::fuzz::kMaxInputBytes) return 0;
  const std::string text(reinterpret_cast<const char*>(data), size);
  static const std::set<std::string> kMetrics = {"mse", "sqnr_db", "perplexity"};
  auto compiled = qlab::storage::CompileFilter(text, kMetrics);
  if (!compiled.ok() || compiled->sql.empty()) return 0;

  const std::string sql =
      "SELECT j.id FROM job j JOIN experiment e ON e.id = j.experiment_id WHERE " + compiled->sql;
  sqlite3* db = Database().raw();
  sqlite3_stmt* stmt = nullptr;
  const int rc = sqlite3_prepare_v2(db, sql.c_str(), -1, &stmt, nullptr);
  QLAB_FUZZ_CHECK(rc == SQLITE_OK, sql + ": " + sqlite3_errmsg(db));
  std::unique_ptr<sqlite3_stmt, int (*)(sqlite3_stmt*)> owned(stmt, sqlite3_finalize);
  QLAB_FUZZ_CHECK(sqlite3_bind_parameter_count(stmt) == static_cast<int>(compiled->binds.size()),
                  sql);
  for (const auto& [name, value] : compiled->binds) {
    const int idx = sqlite3_bind_parameter_index(stmt, name.c_str());
    QLAB_FUZZ_CHECK(idx > 0, sql + ": no parameter " + name);
    int bound = SQLITE_OK;
    if (const auto* i = std::get_if<int64_t>(&value)) {
      bound = sqlite3_bind_int64(stmt, idx, *i);
    } else if (const auto* d = std::get_if<double>(&value)) {
      bound = sqlite3_bind_double(stmt, idx, *d);
    } else {
      const std::string& s = std::get<std::string>(value);
      bound = sqlite3_bind_text(stmt, idx, s.data(), static_cast<int>(s.size()), SQLITE_TRANSIENT);
    }
    QLAB_FUZZ_CHECK(bound == SQLITE_OK, sql);
  }
  int step;
  while ((step = sqlite3_step(stmt)) == SQLITE_ROW) {
  }
  QLAB_FUZZ_CHECK(step == SQLITE_DONE, sql + ": " + sqlite3_errmsg(db));
  return 0;
}
