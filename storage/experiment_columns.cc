#include "storage/experiment_columns.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstring>
#include <tuple>
#include <limits>
#include <variant>

#include <nlohmann/json.hpp>

namespace qlab::storage {
namespace {

constexpr size_t kBlockRows = 4096;
constexpr uint8_t kFalse = 0, kTrue = 1, kUnknown = 2;
constexpr double kNoMetric = std::numeric_limits<double>::quiet_NaN();

enum class Op { kEq, kNe, kLt, kLe, kGt, kGe };
Op OpOf(const std::string& comparator) {
  if (comparator == "!=") return Op::kNe;
  if (comparator == "<") return Op::kLt;
  if (comparator == "<=") return Op::kLe;
  if (comparator == ">") return Op::kGt;
  if (comparator == ">=") return Op::kGe;
  return Op::kEq;
}

// SQLite's order across storage classes: numbers (integer or real, compared as numbers) below
// text; text compares bytewise (the BINARY collation).
int CompareNumber(double v, const FilterValue& literal) {
  if (std::holds_alternative<std::string>(literal)) return -1;
  const double l = std::holds_alternative<int64_t>(literal)
                       ? static_cast<double>(std::get<int64_t>(literal))
                       : std::get<double>(literal);
  return v < l ? -1 : v > l ? 1 : 0;
}
int CompareText(const std::string& t, const FilterValue& literal) {
  if (!std::holds_alternative<std::string>(literal)) return 1;
  const int c = t.compare(std::get<std::string>(literal));
  return c < 0 ? -1 : c > 0 ? 1 : 0;
}

// The truth of a comparison node for one non-NULL value; `compare(literal)` orders the value
// against a literal.
template <typename Compare>
uint8_t Truth(const FilterNode& n, Op op, Compare compare) {
  switch (n.op) {
    case FilterNode::kExists:
      return kTrue;
    case FilterNode::kIn:
    case FilterNode::kNotIn: {
      bool found = false;
      for (const auto& v : n.values) {
        if (compare(v) == 0) {
          found = true;
          break;
        }
      }
      return (found != (n.op == FilterNode::kNotIn)) ? kTrue : kFalse;
    }
    case FilterNode::kBetween:
      return compare(n.values[0]) >= 0 && compare(n.values[1]) <= 0 ? kTrue : kFalse;
    case FilterNode::kCompare: {
      const int c = compare(n.values[0]);
      bool r = false;
      switch (op) {
        case Op::kEq: r = c == 0; break;
        case Op::kNe: r = c != 0; break;
        case Op::kLt: r = c < 0; break;
        case Op::kLe: r = c <= 0; break;
        case Op::kGt: r = c > 0; break;
        case Op::kGe: r = c >= 0; break;
      }
      return r ? kTrue : kFalse;
    }
    default:
      return kUnknown;
  }
}

}  // namespace

// Evaluates one filter over blocks of rows. A text value's truth under a comparison is
// computed once per distinct text and query (a sweep has few distinct labels and many rows).
class ExperimentColumns::Evaluator {
 public:
  Evaluator(const ExperimentColumns& c, const FilterNode* filter) : c_(c), filter_(filter) {}

  // out[i - begin] for rows [begin, end): 1 when the row matches the filter and `kind`.
  void Block(const std::string& kind, size_t begin, size_t end, std::vector<uint8_t>* out) {
    out->assign(end - begin, kTrue);
    if (filter_) Eval(*filter_, begin, end, out);
    if (!kind.empty()) {
      auto it = c_.text_ids_.find(kind);
      const uint32_t want = it == c_.text_ids_.end() ? std::numeric_limits<uint32_t>::max() : it->second;
      for (size_t i = begin; i < end; ++i) {
        if (c_.kind_[i] != want) (*out)[i - begin] = kFalse;
      }
    }
  }

 private:
  // The recursion is as deep as the parse (kMaxFilterNesting and 64 comparisons bound it).
  void Eval(const FilterNode& n, size_t begin, size_t end, std::vector<uint8_t>* out) {
    const size_t rows = end - begin;
    switch (n.op) {
      case FilterNode::kAnd:
      case FilterNode::kOr: {
        std::vector<uint8_t> right;
        Eval(n.children[0], begin, end, out);
        Eval(n.children[1], begin, end, &right);
        const bool is_and = n.op == FilterNode::kAnd;
        for (size_t i = 0; i < rows; ++i) {
          const uint8_t a = (*out)[i], b = right[i];
          if (is_and) {
            (*out)[i] = (a == kFalse || b == kFalse) ? kFalse : (a == kTrue && b == kTrue) ? kTrue : kUnknown;
          } else {
            (*out)[i] = (a == kTrue || b == kTrue) ? kTrue : (a == kFalse && b == kFalse) ? kFalse : kUnknown;
          }
        }
        return;
      }
      case FilterNode::kNot:
        Eval(n.children[0], begin, end, out);
        for (auto& v : *out) v = v == kUnknown ? kUnknown : v == kTrue ? kFalse : kTrue;
        return;
      default:
        Compare(n, begin, end, out);
    }
  }

  uint8_t TextTruth(const FilterNode& n, Op op, uint32_t text_id) {
    std::vector<uint8_t>& table = text_truth_[&n];
    if (table.empty()) table.assign(c_.texts_.size(), 0xff);
    uint8_t& slot = table[text_id];
    if (slot == 0xff) {
      const std::string& text = c_.texts_[text_id];
      slot = Truth(n, op, [&](const FilterValue& v) { return CompareText(text, v); });
    }
    return slot;
  }

  void Compare(const FilterNode& n, size_t begin, size_t end, std::vector<uint8_t>* out) {
    out->resize(end - begin);
    const Op op = OpOf(n.comparator);
    const uint8_t on_null = n.op == FilterNode::kExists ? kFalse : kUnknown;
    auto number = [&](double v) {
      return Truth(n, op, [v](const FilterValue& l) { return CompareNumber(v, l); });
    };
    switch (n.field.kind) {
      case FilterField::kParam: {
        auto it = c_.params_.find(n.field.name);
        if (it == c_.params_.end()) {
          std::fill(out->begin(), out->end(), on_null);
          return;
        }
        const ParamColumn& col = it->second;
        for (size_t i = begin; i < end; ++i) {
          switch (col.type[i]) {
            case kMissing:
            case kJsonNull: (*out)[i - begin] = on_null; break;
            case kInteger: (*out)[i - begin] = number(static_cast<double>(IntegerOf(col.value[i]))); break;
            case kReal:
            case kBoolean: (*out)[i - begin] = number(col.value[i]); break;
            default: (*out)[i - begin] = TextTruth(n, op, static_cast<uint32_t>(col.value[i]));
          }
        }
        return;
      }
      case FilterField::kMetric: {
        auto it = c_.metrics_.find(n.field.name);
        if (it == c_.metrics_.end()) {
          std::fill(out->begin(), out->end(), on_null);
          return;
        }
        const std::vector<double>& col = it->second.value;
        for (size_t i = begin; i < end; ++i) {
          (*out)[i - begin] = std::isnan(col[i]) ? on_null : number(col[i]);
        }
        return;
      }
      case FilterField::kKind:
        for (size_t i = begin; i < end; ++i) (*out)[i - begin] = TextTruth(n, op, c_.kind_[i]);
        return;
      case FilterField::kExperiment: {
        const uint8_t truth =
            Truth(n, op, [&](const FilterValue& v) { return CompareText(c_.name_, v); });
        std::fill(out->begin(), out->end(), truth);
        return;
      }
      default:  // live fields are answered by SQL, never here
        std::fill(out->begin(), out->end(), kUnknown);
    }
  }

  const ExperimentColumns& c_;
  const FilterNode* filter_;
  std::unordered_map<const FilterNode*, std::vector<uint8_t>> text_truth_;
};

ExperimentColumns::ExperimentColumns(int64_t experiment_id, std::string name)
    : experiment_id_(experiment_id), name_(std::move(name)) {}

uint32_t ExperimentColumns::TextId(const std::string& text) {
  auto [it, added] = text_ids_.emplace(text, static_cast<uint32_t>(texts_.size()));
  if (added) texts_.push_back(text);
  return it->second;
}

size_t ExperimentColumns::RowOf(int64_t job_id) const {
  auto it = std::lower_bound(ids_.begin(), ids_.end(), job_id);
  return it != ids_.end() && *it == job_id ? static_cast<size_t>(it - ids_.begin()) : ids_.size();
}

size_t ExperimentColumns::InsertRow(int64_t job_id) {
  const size_t row = static_cast<size_t>(std::lower_bound(ids_.begin(), ids_.end(), job_id) - ids_.begin());
  auto grow = [row](auto& v, auto fill) { v.insert(v.begin() + static_cast<std::ptrdiff_t>(row), fill); };
  grow(ids_, job_id);
  grow(kind_, uint32_t{0});
  grow(environment_key_, TextId(""));
  grow(fallback_, uint8_t{0});
  for (auto& [name, col] : params_) {
    grow(col.type, uint8_t{kMissing});
    grow(col.value, 0.0);
  }
  for (auto& [name, col] : metrics_) grow(col.value, kNoMetric);
  return row;
}

std::shared_ptr<const void> ExperimentColumns::Memo(const std::string& key) const {
  std::lock_guard lock(memo_mu_);
  auto it = memos_.find(key);
  return it == memos_.end() ? nullptr : it->second;
}

uint64_t ExperimentColumns::version() const {
  std::lock_guard lock(memo_mu_);
  return version_;
}

void ExperimentColumns::SetMemo(const std::string& key, std::shared_ptr<const void> value,
                                uint64_t version) const {
  std::lock_guard lock(memo_mu_);
  if (version != version_) return;
  if (memos_.size() >= kMaxMemos) memos_.erase(memos_.begin());
  memos_[key] = std::move(value);
}

void ExperimentColumns::ForgetMemos() {
  std::lock_guard lock(memo_mu_);
  ++version_;
  memos_.clear();
}

void ExperimentColumns::GiveUp() {
  complete_ = false;
  ForgetMemos();
  ids_ = {};
  kind_ = {};
  environment_key_ = {};
  fallback_ = {};
  params_.clear();
  metrics_.clear();
  texts_ = {};
  text_ids_ = {};
}

void ExperimentColumns::AppendJob(int64_t job_id, const std::string& kind,
                                  const std::string& params_json) {
  if (!complete_ || RowOf(job_id) != ids_.size()) return;
  ForgetMemos();
  const size_t row = InsertRow(job_id);
  kind_[row] = TextId(kind);
  auto params = nlohmann::json::parse(params_json, nullptr, /*allow_exceptions=*/false);
  if (!params.is_object()) return;
  size_t position = 0;
  for (const auto& [key, value] : params.items()) {
    if (params_.size() + metrics_.size() >= kMaxColumns && !params_.count(key)) return GiveUp();
    auto [it, added] = params_.try_emplace(key);
    ParamColumn& col = it->second;
    if (added) {
      col.type.assign(ids_.size(), kMissing);
      col.value.assign(ids_.size(), 0.0);
      col.first_position = position;
    }
    ++position;
    // Booleans compare as 1 and 0 and objects and arrays as their JSON text, as json_extract
    // answers; the type is kept for writing the value back as it was.
    if (value.is_number_integer()) {
      col.type[row] = kInteger;
      col.value[row] = BitsOf(value.is_number_unsigned()
                                  ? static_cast<int64_t>(value.get<uint64_t>())
                                  : value.get<int64_t>());
    } else if (value.is_number()) {
      col.type[row] = kReal;
      col.value[row] = value.get<double>();
    } else if (value.is_boolean()) {
      col.type[row] = kBoolean;
      col.value[row] = value.get<bool>() ? 1.0 : 0.0;
    } else if (value.is_string()) {
      col.type[row] = kString;
      col.value[row] = TextId(value.get_ref<const std::string&>());
    } else if (value.is_null()) {
      col.type[row] = kJsonNull;
    } else {
      col.type[row] = kJson;
      col.value[row] = TextId(value.dump());
    }
  }
}

int64_t ExperimentColumns::IntegerOf(double bits) {
  int64_t v;
  std::memcpy(&v, &bits, sizeof v);
  return v;
}

double ExperimentColumns::BitsOf(int64_t integer) {
  double v;
  std::memcpy(&v, &integer, sizeof v);
  return v;
}

void ExperimentColumns::SetSucceeded(int64_t job_id, const std::vector<Metric>& metrics,
                                     const std::string& environment_key, bool fallback) {
  if (!complete_) return;
  const size_t row = RowOf(job_id);
  if (row == ids_.size()) return;
  ForgetMemos();
  environment_key_[row] = TextId(environment_key);
  fallback_[row] = fallback ? 1 : 0;
  for (const Metric& m : metrics) {
    if (params_.size() + metrics_.size() >= kMaxColumns && !metrics_.count(m.name)) return GiveUp();
    auto [it, added] = metrics_.try_emplace(m.name);
    if (added) it->second.value.assign(ids_.size(), kNoMetric);
    it->second.value[row] = m.value;
    it->second.higher_is_better = m.higher_is_better;
  }
}

std::vector<int64_t> ExperimentColumns::MatchingIds(const FilterNode* filter,
                                                    const std::string& kind, int64_t before_id,
                                                    size_t limit) const {
  std::vector<int64_t> out;
  Evaluator eval(*this, filter);
  std::vector<uint8_t> match;
  size_t end = static_cast<size_t>(std::lower_bound(ids_.begin(), ids_.end(), before_id) - ids_.begin());
  while (end > 0 && out.size() < limit) {
    const size_t begin = end > kBlockRows ? end - kBlockRows : 0;
    eval.Block(kind, begin, end, &match);
    for (size_t i = end; i > begin && out.size() < limit; --i) {
      if (match[i - 1 - begin] == kTrue) out.push_back(ids_[i - 1]);
    }
    end = begin;
  }
  return out;
}

int64_t ExperimentColumns::CountMatching(const FilterNode* filter, const std::string& kind,
                                         int64_t cap) const {
  int64_t n = 0;
  Evaluator eval(*this, filter);
  std::vector<uint8_t> match;
  for (size_t begin = 0; begin < ids_.size() && n < cap; begin += kBlockRows) {
    const size_t end = std::min(ids_.size(), begin + kBlockRows);
    eval.Block(kind, begin, end, &match);
    for (uint8_t m : match) n += m == kTrue;
  }
  return std::min(n, cap);
}

ExperimentColumns::Pairs ExperimentColumns::MetricPairs(const FilterNode* filter,
                                                        const std::string& x,
                                                        const std::string& y) const {
  Pairs out;
  auto xi = metrics_.find(x), yi = metrics_.find(y);
  out.x_seen = xi != metrics_.end();
  out.y_seen = yi != metrics_.end();
  if (!out.x_seen || !out.y_seen) return out;
  out.x_higher_is_better = xi->second.higher_is_better;
  out.y_higher_is_better = yi->second.higher_is_better;
  const std::vector<double>& xs = xi->second.value;
  const std::vector<double>& ys = yi->second.value;
  // Environment keys are few: a text id to key index table, not a hash lookup per point.
  std::vector<uint32_t> key_of_text(texts_.size(), std::numeric_limits<uint32_t>::max());
  out.ids.reserve(ids_.size());
  out.x.reserve(ids_.size());
  out.y.reserve(ids_.size());
  out.key.reserve(ids_.size());
  out.fallback.reserve(ids_.size());
  Evaluator eval(*this, filter);
  std::vector<uint8_t> match;
  for (size_t begin = 0; begin < ids_.size(); begin += kBlockRows) {
    const size_t end = std::min(ids_.size(), begin + kBlockRows);
    // Only rows with both metrics are evaluated against the filter: most of a large sweep's
    // rows have them, and a row without is never a point.
    bool any = false;
    for (size_t i = begin; i < end && !any; ++i) any = !std::isnan(xs[i]) && !std::isnan(ys[i]);
    if (!any) continue;
    if (filter) eval.Block("", begin, end, &match);
    for (size_t i = begin; i < end; ++i) {
      if (std::isnan(xs[i]) || std::isnan(ys[i]) || (filter && match[i - begin] != kTrue)) continue;
      uint32_t& k = key_of_text[environment_key_[i]];
      if (k == std::numeric_limits<uint32_t>::max()) {
        k = static_cast<uint32_t>(out.key_names.size());
        out.key_names.push_back(texts_[environment_key_[i]]);
      }
      out.ids.push_back(ids_[i]);
      out.x.push_back(xs[i]);
      out.y.push_back(ys[i]);
      out.key.push_back(k);
      out.fallback.push_back(fallback_[i]);
    }
  }
  return out;
}

size_t ExperimentColumns::MatchingRows(const FilterNode* filter, size_t from_row, size_t limit,
                                       std::vector<size_t>* rows) const {
  rows->clear();
  Evaluator eval(*this, filter);
  std::vector<uint8_t> match;
  size_t begin = from_row;
  while (begin < ids_.size() && rows->size() < limit) {
    const size_t end = std::min(ids_.size(), begin + std::min(kBlockRows, limit - rows->size()));
    eval.Block("", begin, end, &match);
    for (size_t i = begin; i < end; ++i) {
      if (match[i - begin] == kTrue) rows->push_back(i);
    }
    begin = end;
  }
  return begin;
}

void ExperimentColumns::ExportedNames(const FilterNode* filter, std::vector<std::string>* params,
                                      std::vector<std::string>* metrics) const {
  // The first matching row that has each name; rows are visited block by block until every
  // name is placed, which for a sweep is the first block.
  std::map<std::string, size_t> param_row, metric_row;
  Evaluator eval(*this, filter);
  std::vector<uint8_t> match;
  for (size_t begin = 0; begin < ids_.size() && (param_row.size() < params_.size() ||
                                                 metric_row.size() < metrics_.size());
       begin += kBlockRows) {
    const size_t end = std::min(ids_.size(), begin + kBlockRows);
    eval.Block("", begin, end, &match);
    for (const auto& [key, col] : params_) {
      if (param_row.count(key)) continue;
      for (size_t i = begin; i < end; ++i) {
        if (match[i - begin] == kTrue && col.type[i] != kMissing) {
          param_row[key] = i;
          break;
        }
      }
    }
    for (const auto& [name, col] : metrics_) {
      if (metric_row.count(name)) continue;
      for (size_t i = begin; i < end; ++i) {
        if (match[i - begin] == kTrue && !std::isnan(col.value[i])) {
          metric_row[name] = i;
          break;
        }
      }
    }
  }
  std::vector<std::tuple<size_t, size_t, std::string>> p, m;
  for (const auto& [key, row] : param_row) p.emplace_back(row, params_.at(key).first_position, key);
  for (const auto& [name, row] : metric_row) m.emplace_back(row, 0, name);
  std::sort(p.begin(), p.end());
  std::sort(m.begin(), m.end());
  params->clear();
  metrics->clear();
  for (auto& t : p) params->push_back(std::get<2>(t));
  for (auto& t : m) metrics->push_back(std::get<2>(t));
}

const ExperimentColumns::ParamColumn* ExperimentColumns::FindParam(const std::string& key) const {
  auto it = params_.find(key);
  return it == params_.end() ? nullptr : &it->second;
}

const ExperimentColumns::MetricColumn* ExperimentColumns::FindMetric(const std::string& name) const {
  auto it = metrics_.find(name);
  return it == metrics_.end() ? nullptr : &it->second;
}

bool ExperimentColumns::ParamText(const ParamColumn* column, size_t row, std::string* scratch,
                                  std::string_view* text, bool* is_string) const {
  if (!column) return false;
  const ParamColumn& col = *column;
  if (is_string) *is_string = col.type[row] == kString;
  switch (col.type[row]) {
    case kMissing:
      return false;
    case kJsonNull:
      *text = "null";
      return true;
    case kInteger: {
      char buf[24];
      auto r = std::to_chars(buf, buf + sizeof(buf), IntegerOf(col.value[row]));
      scratch->assign(buf, r.ptr);
      break;
    }
    case kReal:
      *scratch = nlohmann::json(col.value[row]).dump();
      break;
    case kBoolean:
      *text = col.value[row] != 0 ? "true" : "false";
      return true;
    default:
      *text = texts_[static_cast<uint32_t>(col.value[row])];
      return true;
  }
  *text = *scratch;
  return true;
}

bool ExperimentColumns::MetricValue(const MetricColumn* column, size_t row, double* out) {
  if (!column || std::isnan(column->value[row])) return false;
  *out = column->value[row];
  return true;
}

size_t ExperimentColumns::ApproximateBytes() const {
  size_t bytes = ids_.capacity() * 8 + kind_.capacity() * 4 + environment_key_.capacity() * 4 +
                 fallback_.capacity();
  for (const auto& [name, col] : params_) bytes += col.type.capacity() + col.value.capacity() * 8;
  for (const auto& [name, col] : metrics_) bytes += col.value.capacity() * 8;
  for (const auto& t : texts_) bytes += t.capacity() + 64;
  return bytes;
}

// ---- ColumnIndex ------------------------------------------------------------------------------

std::shared_ptr<ColumnIndex::Entry> ColumnIndex::EntryOf(int64_t experiment_id) {
  std::lock_guard lock(mu_);
  auto& e = entries_[experiment_id];
  if (!e) e = std::make_shared<Entry>();
  return e;
}

StatusOr<std::shared_ptr<ExperimentColumns>> ColumnIndex::Get(int64_t experiment_id,
                                                              const Loader& load) {
  std::shared_ptr<Entry> entry = EntryOf(experiment_id);
  {
    std::lock_guard lock(mu_);
    if (entry->columns) return entry->columns;
  }
  // One thread loads; the others wait for it here and then find the columns.
  std::lock_guard load_lock(entry->load_mu);
  {
    std::lock_guard lock(mu_);
    if (entry->columns) return entry->columns;
    entry->loading = true;
  }
  StatusOr<std::shared_ptr<ExperimentColumns>> loaded = load();
  std::lock_guard lock(mu_);
  entry->loading = false;
  std::vector<StoredJob> jobs = std::move(entry->pending_jobs);
  std::vector<Success> successes = std::move(entry->pending_successes);
  entry->pending_jobs.clear();
  entry->pending_successes.clear();
  if (!loaded.ok()) return loaded.status();
  std::shared_ptr<ExperimentColumns> columns = *loaded;
  // Writes that committed while the file was read: the read may have seen them or not.
  for (const auto& j : jobs) columns->AppendJob(j.id, j.kind, j.params_json);
  for (const auto& s : successes) columns->SetSucceeded(s.job_id, s.metrics, s.environment_key, s.fallback);
  entry->columns = columns;
  return columns;
}

template <typename Item, typename Apply>
void ColumnIndex::Deliver(int64_t experiment_id, std::vector<Item> items,
                          std::vector<Item> Entry::*pending, Apply apply) {
  std::shared_ptr<ExperimentColumns> columns;
  {
    std::lock_guard lock(mu_);
    auto it = entries_.find(experiment_id);
    if (it == entries_.end()) return;
    Entry& e = *it->second;
    if (e.loading) {
      for (auto& item : items) (e.*pending).push_back(std::move(item));
      return;
    }
    columns = e.columns;
  }
  if (!columns) return;
  std::unique_lock write(columns->mutex());
  for (const auto& item : items) apply(*columns, item);
}

void ColumnIndex::OnJobsStored(int64_t experiment_id, std::vector<StoredJob> jobs) {
  Deliver(experiment_id, std::move(jobs), &Entry::pending_jobs,
          [](ExperimentColumns& c, const StoredJob& j) { c.AppendJob(j.id, j.kind, j.params_json); });
}

void ColumnIndex::OnSucceeded(int64_t experiment_id, std::vector<Success> successes) {
  Deliver(experiment_id, std::move(successes), &Entry::pending_successes,
          [](ExperimentColumns& c, const Success& s) {
            c.SetSucceeded(s.job_id, s.metrics, s.environment_key, s.fallback);
          });
}

bool ColumnIndex::Tracks(int64_t experiment_id) {
  std::lock_guard lock(mu_);
  auto it = entries_.find(experiment_id);
  return it != entries_.end() && (it->second->loading || it->second->columns);
}

size_t ColumnIndex::ApproximateBytes() {
  std::vector<std::shared_ptr<ExperimentColumns>> all;
  {
    std::lock_guard lock(mu_);
    for (const auto& [id, e] : entries_) {
      if (e->columns) all.push_back(e->columns);
    }
  }
  size_t bytes = 0;
  for (const auto& c : all) {
    std::shared_lock read(c->mutex());
    bytes += c->ApproximateBytes();
  }
  return bytes;
}

}  // namespace qlab::storage
