#include "server/results_export.h"

#include <algorithm>
#include <charconv>
#include <mutex>
#include <shared_mutex>

#include <nlohmann/json.hpp>

#include "common/results_csv.h"
#include "common/text_format.h"
#include "server/http_common.h"
#include "server/join_query.h"

namespace qlab::server {
namespace {

using ojson = nlohmann::ordered_json;

constexpr size_t kRowsPerPage = 2048;

void AppendJsonString(std::string* out, std::string_view text) {
  // Plain printable ASCII (labels, keys, names) needs no escaping; anything else goes through
  // nlohmann, which also replaces what is not UTF-8, as every JSON answer does.
  bool plain = true;
  for (unsigned char c : text) plain &= c >= 0x20 && c < 0x7f && c != '"' && c != '\\';
  if (plain) {
    *out += '"';
    *out += text;
    *out += '"';
    return;
  }
  *out += nlohmann::json(std::string(text)).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

// A double as nlohmann's dump writes it ("0.25", "100000.0"); its own formatter, so that the
// streamed JSON reads exactly as the JSON answers built whole; null for what JSON cannot hold.
void AppendJsonNumber(std::string* out, double v) {
  if (!std::isfinite(v)) {
    *out += "null";
    return;
  }
  char buf[64];
  char* end = nlohmann::detail::to_chars(buf, buf + sizeof(buf), v);
  out->append(buf, end);
}

// The answer for filters on live fields: built from SQL rows, as the results route always did.
StatusOr<std::string> WholeAnswer(storage::JobStore& store, int64_t experiment_id,
                                  const std::string& filter, ResultsExport::Format format) {
  ASSIGN_OR_RETURN(auto rows, ReadResultRows(store, experiment_id, filter, /*succeeded_only=*/false));
  if (format == ResultsExport::Format::kCsv) {
    std::vector<ResultLine> lines;
    lines.reserve(rows.size());
    for (const auto& r : rows) {
      ResultLine line{r.job_id, r.experiment, r.kind, storage::JobStateName(r.state), r.params_json,
                      {}, r.comparability_key, r.environment_key, r.backend, r.flag};
      for (const auto& m : r.metrics) line.metrics.emplace_back(m.name, m.value);
      lines.push_back(std::move(line));
    }
    return ResultsCsv(lines);
  }
  ojson out = ojson::array();
  for (const auto& r : rows) {
    out.push_back({{"job_id", r.job_id}, {"experiment", r.experiment}, {"kind", r.kind},
                   {"state", storage::JobStateName(r.state)}, {"params", ParseObject(r.params_json)},
                   {"metrics", MetricsObject(r.metrics)}, {"comparability_key", r.comparability_key},
                   {"environment_key", r.environment_key}, {"backend", r.backend},
                   {"flag", r.flag}});
  }
  return out.dump(-1, ' ', false, ojson::error_handler_t::replace);
}

}  // namespace

StatusOr<std::unique_ptr<ResultsExport>> ResultsExport::Start(storage::JobStore& store,
                                                              const std::string& experiment,
                                                              const std::string& filter,
                                                              Format format) {
  ASSIGN_OR_RETURN(auto e, store.GetExperiment(experiment, 0));
  std::unique_ptr<ResultsExport> out(new ResultsExport());
  out->store_ = &store;
  out->format_ = format;
  ASSIGN_OR_RETURN(out->filter_, storage::ParseFilter(filter, store.MetricNames()));
  if (out->filter_ && storage::ReadsLiveFields(*out->filter_)) {
    ASSIGN_OR_RETURN(out->prebuilt_, WholeAnswer(store, e.id, filter, format));
    return out;
  }
  ASSIGN_OR_RETURN(out->columns_, store.Columns(e.id));
  std::shared_lock read(out->columns_->mutex());
  if (!out->columns_->complete()) {
    read.unlock();
    out->columns_.reset();
    ASSIGN_OR_RETURN(out->prebuilt_, WholeAnswer(store, e.id, filter, format));
    return out;
  }
  out->columns_->ExportedNames(out->filter_ ? &*out->filter_ : nullptr, &out->params_, &out->metrics_);
  return out;
}

StatusOr<bool> ResultsExport::Next(std::string* out) {
  if (done_) return false;
  if (!columns_) {
    out->append(prebuilt_);
    done_ = true;
    return true;
  }
  if (!header_written_) {
    header_written_ = true;
    if (format_ == Format::kJson) {
      *out += '[';
      return true;
    }
    std::vector<std::string> header = {"job_id", "experiment", "kind", "state"};
    for (const auto& k : params_) header.push_back("params." + k);
    for (const auto& m : metrics_) header.push_back("metrics." + m);
    for (const char* k : {"comparability_key", "environment_key", "backend", "flag"}) header.push_back(k);
    *out += CsvLine(header);
    return true;
  }
  RETURN_IF_ERROR(Page(out));
  return true;
}

Status ResultsExport::Page(std::string* out) {
  const storage::ExperimentColumns& c = *columns_;
  std::shared_lock read(c.mutex());
  const std::vector<int64_t>& ids = c.ids();
  const size_t from = static_cast<size_t>(std::lower_bound(ids.begin(), ids.end(), next_id_) - ids.begin());
  std::vector<size_t> rows;
  const size_t stop = c.MatchingRows(filter_ ? &*filter_ : nullptr, from, kRowsPerPage, &rows);
  next_id_ = stop < ids.size() ? ids[stop] : (ids.empty() ? 0 : ids.back() + 1);
  const bool last = stop >= ids.size();
  if (!rows.empty()) RETURN_IF_ERROR(WriteRows(rows, out));
  if (last) {
    done_ = true;
    if (format_ == Format::kJson) *out += ']';
  }
  return Status::Ok();
}

Status ResultsExport::WriteRows(const std::vector<size_t>& rows, std::string* out) {
  const storage::ExperimentColumns& c = *columns_;
  const std::vector<int64_t>& ids = c.ids();
  ASSIGN_OR_RETURN(auto live, store_->ReadLiveFields(c.experiment_id(), ids[rows.front()], ids[rows.back()]));
  std::vector<std::string> sorted_metrics = metrics_;  // a job's metrics are listed by name
  std::sort(sorted_metrics.begin(), sorted_metrics.end());
  std::vector<const storage::ExperimentColumns::ParamColumn*> params;
  for (const auto& k : params_) params.push_back(c.FindParam(k));
  std::vector<const storage::ExperimentColumns::MetricColumn*> metrics, json_metrics;
  for (const auto& m : metrics_) metrics.push_back(c.FindMetric(m));
  for (const auto& m : sorted_metrics) json_metrics.push_back(c.FindMetric(m));
  size_t k = 0;
  std::string scratch;
  std::string_view text;
  const storage::JobStore::LiveFields none;
  for (size_t row : rows) {
    const int64_t id = ids[row];
    while (k < live.size() && live[k].job_id < id) ++k;
    const storage::JobStore::LiveFields& f = k < live.size() && live[k].job_id == id ? live[k] : none;
    const char* state = storage::JobStateName(f.state);
    if (format_ == Format::kCsv) {
      char digits[24];
      out->append(digits, std::to_chars(digits, digits + sizeof(digits), id).ptr);
      *out += ',';
      AppendCsvField(out, c.name());
      *out += ',';
      AppendCsvField(out, c.KindOf(row));
      *out += ',';
      *out += state;
      for (const auto* p : params) {
        *out += ',';
        if (c.ParamText(p, row, &scratch, &text)) AppendCsvField(out, text);
      }
      for (const auto* m : metrics) {
        *out += ',';
        double v;
        if (storage::ExperimentColumns::MetricValue(m, row, &v)) AppendNumber(out, v);
      }
      for (const std::string* v : {&f.comparability_key, &f.environment_key, &f.backend, &f.flag}) {
        *out += ',';
        AppendCsvField(out, *v);
      }
      *out += '\n';
      continue;
    }
    *out += any_row_ ? ",{\"job_id\":" : "{\"job_id\":";
    any_row_ = true;
    *out += std::to_string(id);
    *out += ",\"experiment\":";
    AppendJsonString(out, c.name());
    *out += ",\"kind\":";
    AppendJsonString(out, c.KindOf(row));
    *out += ",\"state\":\"";
    *out += state;
    *out += "\",\"params\":{";
    bool first = true;
    for (size_t p = 0; p < params.size(); ++p) {
      bool is_string = false;
      if (!c.ParamText(params[p], row, &scratch, &text, &is_string)) continue;
      if (!first) *out += ',';
      first = false;
      AppendJsonString(out, params_[p]);
      *out += ':';
      if (is_string) {
        AppendJsonString(out, text);
      } else {
        out->append(text);
      }
    }
    *out += "},\"metrics\":{";
    first = true;
    for (size_t m = 0; m < json_metrics.size(); ++m) {
      double v;
      if (!storage::ExperimentColumns::MetricValue(json_metrics[m], row, &v)) continue;
      if (!first) *out += ',';
      first = false;
      AppendJsonString(out, sorted_metrics[m]);
      *out += ':';
      AppendJsonNumber(out, v);
    }
    *out += "},\"comparability_key\":";
    AppendJsonString(out, f.comparability_key);
    *out += ",\"environment_key\":";
    AppendJsonString(out, f.environment_key);
    *out += ",\"backend\":";
    AppendJsonString(out, f.backend);
    *out += ",\"flag\":";
    AppendJsonString(out, f.flag);
    *out += '}';
  }
  return Status::Ok();
}

}  // namespace qlab::server
