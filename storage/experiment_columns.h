// One experiment's jobs held in memory as columns: what filters and Pareto fronts read (job
// id, kind, every top-level param, every metric, environment key, fallback), so that a filter
// or a front over a million jobs is a pass over arrays instead of a million json_extract calls
// and a two-metric join.
//
// Why the columns stay exact without re-reading the file: a job's params never change once it
// is stored, and its metrics, environment key and backend are written once, in the
// transaction that makes it SUCCEEDED (a succeeded job never runs again). So appending jobs
// as they are stored (AppendJob) and filling metrics as jobs succeed (SetSucceeded) is the
// whole maintenance. State and worker change all the time and are not here: a filter that
// reads them (ReadsLiveFields) is answered by SQL instead.
//
// Answers equal SQLite's for the same filter's SQL (storage/filter_expression.h): numbers sort
// below text, text compares bytewise, a missing param or metric is NULL, and NULL propagates
// through and/or/not as in SQL.
//
// Thread-safety: readers hold mutex() shared, writers exclusive (ColumnIndex does both).
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "common/job_output.h"
#include "common/status.h"
#include "storage/filter_expression.h"

namespace qlab::storage {

class ExperimentColumns {
 public:
  ExperimentColumns(int64_t experiment_id, std::string name);

  // An experiment whose jobs bring more distinct params and metrics than this is not held:
  // one-off keys (a job submitted alone with its own) would make the columns grow as jobs
  // times keys. Its filters, fronts and exports are answered by SQL.
  static constexpr size_t kMaxColumns = 1024;
  // False once the experiment outgrew kMaxColumns: then nothing is held and nothing here may
  // answer for it.
  bool complete() const { return complete_; }

  int64_t experiment_id() const { return experiment_id_; }
  size_t size() const { return ids_.size(); }
  const std::vector<int64_t>& ids() const { return ids_; }  // ascending
  std::shared_mutex& mutex() const { return mu_; }

  // ---- writes (exclusive lock) -------------------------------------------------------------
  // A stored job; ids normally arrive ascending, an older one is placed in order. A job
  // already held is left as it is. Params that are not a JSON object leave every param NULL.
  void AppendJob(int64_t job_id, const std::string& kind, const std::string& params_json);
  // A succeeded job's metrics and keys; a job not held is ignored.
  void SetSucceeded(int64_t job_id, const std::vector<Metric>& metrics,
                    const std::string& environment_key, bool fallback);

  // ---- reads (shared lock) -----------------------------------------------------------------
  // Ids of the jobs matching `filter` (nullptr = all) and `kind` ("" = any), with id <
  // before_id, newest first, at most `limit`. The filter must not read live fields.
  std::vector<int64_t> MatchingIds(const FilterNode* filter, const std::string& kind,
                                   int64_t before_id, size_t limit) const;
  // How many jobs match, counting no further than `cap`.
  int64_t CountMatching(const FilterNode* filter, const std::string& kind, int64_t cap) const;

  // Succeeded jobs matching `filter` that have both metrics, ascending by id.
  struct Pairs {
    std::vector<int64_t> ids;
    std::vector<double> x, y;
    std::vector<uint32_t> key;          // index into key_names: the environment key
    std::vector<std::string> key_names;
    std::vector<uint8_t> fallback;      // 1: the figure came from a fallback kernel
    bool x_higher_is_better = false, y_higher_is_better = false;
    bool x_seen = false, y_seen = false;  // the metric exists in the experiment at all
  };
  Pairs MetricPairs(const FilterNode* filter, const std::string& x, const std::string& y) const;

  // ---- exports (shared lock) ----------------------------------------------------------------
  // Rows (indices into ids()) matching `filter`, from `from_row` on, at most `limit`; returns
  // the row to continue from (size() at the end).
  size_t MatchingRows(const FilterNode* filter, size_t from_row, size_t limit,
                      std::vector<size_t>* rows) const;
  // The params and metrics of the rows matching `filter`, each in the order first seen over
  // those rows by job id: a metric by (first row, name) as the rows list them, a param by
  // (first row, its place in the params of the job that first had it).
  void ExportedNames(const FilterNode* filter, std::vector<std::string>* params,
                     std::vector<std::string>* metrics) const;
  // Columns by name, looked up once per export rather than once per row; nullptr when none.
  struct ParamColumn;
  struct MetricColumn;
  const ParamColumn* FindParam(const std::string& key) const;
  const MetricColumn* FindMetric(const std::string& name) const;
  // A param of a row as a results CSV writes it: text as it is, anything else as its JSON;
  // false when the job has no such param. *is_string (when given) tells a JSON string from
  // the JSON text of anything else.
  // *text views the stored text, or `scratch` where the value is formatted (no copy per row
  // of a million-row export).
  bool ParamText(const ParamColumn* column, size_t row, std::string* scratch,
                 std::string_view* text, bool* is_string = nullptr) const;
  // A metric of a row; false when the job has none.
  static bool MetricValue(const MetricColumn* column, size_t row, double* out);
  const std::string& KindOf(size_t row) const { return texts_[kind_[row]]; }
  const std::string& name() const { return name_; }

  // Bytes held, roughly (for the log and the memory gauge).
  size_t ApproximateBytes() const;

  // Answers computed from these columns (a Pareto front), kept until the next write changes
  // the columns: a finished sweep's page is computed once, a running one's at each change.
  // Keyed by the caller's description of the question; at most kMaxMemos are kept.
  // Thread-safe on their own (a lock of their own, not mutex()).
  static constexpr size_t kMaxMemos = 16;
  // version() before computing; SetMemo keeps nothing when a write came in between.
  uint64_t version() const;
  std::shared_ptr<const void> Memo(const std::string& key) const;
  void SetMemo(const std::string& key, std::shared_ptr<const void> value, uint64_t version) const;

 private:
  // A param's JSON type as json_extract sees it: integers, reals and booleans are numbers,
  // strings, objects and arrays text, JSON null and a missing key NULL.
  enum CellType : uint8_t { kMissing = 0, kJsonNull, kInteger, kReal, kBoolean, kString, kJson };

 public:
  struct ParamColumn {
    std::vector<uint8_t> type;  // CellType per row
    std::vector<double> value;  // reals and booleans; integers bit-cast (exact past 2^53);
                                // strings and JSON the text's id in texts_
    size_t first_position = 0;  // the key's place among the params of the job that first had it
  };
  struct MetricColumn {
    std::vector<double> value;  // NaN = the job has no such metric (SQLite stores no NaN)
    bool higher_is_better = false;
  };

 private:
  class Evaluator;
  static int64_t IntegerOf(double bits);
  static double BitsOf(int64_t integer);

  uint32_t TextId(const std::string& text);
  size_t RowOf(int64_t job_id) const;  // size() when not held
  size_t InsertRow(int64_t job_id);    // the row of a new job, columns grown by one
  // rows [begin, end) into out: 1 = matches, 0 = not, 2 = NULL (SQL's unknown).
  void Evaluate(const FilterNode& node, size_t begin, size_t end, std::vector<uint8_t>* out) const;

  void GiveUp();  // past kMaxColumns: drops everything held

  const int64_t experiment_id_;
  const std::string name_;
  bool complete_ = true;
  mutable std::shared_mutex mu_;
  std::vector<int64_t> ids_;  // ascending
  std::vector<uint32_t> kind_;
  std::vector<uint32_t> environment_key_;
  std::vector<uint8_t> fallback_;
  std::map<std::string, ParamColumn> params_;
  std::map<std::string, MetricColumn> metrics_;
  mutable std::mutex memo_mu_;
  mutable std::map<std::string, std::shared_ptr<const void>> memos_;  // guarded by memo_mu_
  uint64_t version_ = 0;                                              // guarded by memo_mu_
  void ForgetMemos();  // every write calls it
  std::vector<std::string> texts_;  // every text value, kind and key, once
  std::unordered_map<std::string, uint32_t> text_ids_;
};

// The columns of every experiment read so far, loaded on first use and kept current by the
// store's writes. Thread-safe.
class ColumnIndex {
 public:
  // Reads an experiment's columns from the file; called without any lock held.
  using Loader = std::function<StatusOr<std::shared_ptr<ExperimentColumns>>()>;

  StatusOr<std::shared_ptr<ExperimentColumns>> Get(int64_t experiment_id, const Loader& load);

  // After the transaction that stored them committed. Ignored for experiments not loaded;
  // remembered and replayed for one being loaded (its read may or may not include them:
  // both calls are idempotent).
  struct StoredJob {
    int64_t id = 0;
    std::string kind, params_json;
  };
  void OnJobsStored(int64_t experiment_id, std::vector<StoredJob> jobs);
  struct Success {
    int64_t job_id = 0;
    std::vector<Metric> metrics;
    std::string environment_key;
    bool fallback = false;
  };
  void OnSucceeded(int64_t experiment_id, std::vector<Success> successes);

  // Whether the experiment's columns are loaded or being loaded.
  bool Tracks(int64_t experiment_id);
  size_t ApproximateBytes();

 private:
  struct Entry {
    std::shared_ptr<ExperimentColumns> columns;  // set once loaded
    std::mutex load_mu;                          // held by the one thread loading
    bool loading = false;                        // guarded by ColumnIndex::mu_
    std::vector<StoredJob> pending_jobs;         // guarded by ColumnIndex::mu_, while loading
    std::vector<Success> pending_successes;      // guarded by ColumnIndex::mu_, while loading
  };
  std::shared_ptr<Entry> EntryOf(int64_t experiment_id);
  // Applies `items` to the experiment's columns, or queues them in `pending` behind a load in
  // progress; an experiment not loaded ignores them (its load reads them from the file).
  template <typename Item, typename Apply>
  void Deliver(int64_t experiment_id, std::vector<Item> items, std::vector<Item> Entry::*pending,
               Apply apply);

  std::mutex mu_;
  std::map<int64_t, std::shared_ptr<Entry>> entries_;  // guarded by mu_
};

}  // namespace qlab::storage
