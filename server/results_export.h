// An experiment's results written as CSV or JSON a page of rows at a time, for downloads of any
// size in constant memory: the rows come from the experiment's columns in memory
// (storage/experiment_columns.h) and what changes while a job lives (state, keys, flag) from
// one indexed range read per page. The CSV is ResultsCsv's (common/results_csv.h), byte for
// byte; the JSON is the array the HTTP API documents, params in the CSV's column order.
//
// A filter that reads live fields (state, worker) cannot be answered by the columns: such an
// export is built from SQL rows in memory, as before, and streamed from there.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/status.h"
#include "storage/job_store.h"

namespace qlab::server {

class ResultsExport {
 public:
  enum class Format { kCsv, kJson };
  // NOT_FOUND for an unknown experiment, INVALID_ARGUMENT for a malformed filter.
  static StatusOr<std::unique_ptr<ResultsExport>> Start(storage::JobStore& store,
                                                        const std::string& experiment,
                                                        const std::string& filter, Format format);
  // Appends the next piece (the header first, then a page of rows) to *out. Returns false once
  // everything was written (then *out is unchanged).
  StatusOr<bool> Next(std::string* out);

 private:
  ResultsExport() = default;
  Status Page(std::string* out);
  // Called with the columns' lock held.
  Status WriteRows(const std::vector<size_t>& rows, std::string* out);

  storage::JobStore* store_ = nullptr;
  Format format_ = Format::kCsv;
  std::shared_ptr<storage::ExperimentColumns> columns_;
  std::optional<storage::FilterNode> filter_;
  std::vector<std::string> params_, metrics_;
  int64_t next_id_ = 0;  // the first job id not yet written
  bool header_written_ = false, done_ = false, any_row_ = false;
  std::string prebuilt_;  // the whole answer, for filters on live fields
};

}  // namespace qlab::server
