#include "server/join_query.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <set>
#include <unordered_map>

#include <nlohmann/json.hpp>

#include "common/input_limits.h"
#include "server/comparability.h"

namespace qlab::server {
namespace {

using nlohmann::json;
using ojson = nlohmann::ordered_json;

struct Keyed {
  bool complete = false;  // every `on` param present: the row can have a partner
  std::string bucket;     // canonical values, when complete
  std::string on_json;    // the `on` params it has, in `on` order
};

Keyed KeyOf(const std::string& params_json, const std::vector<std::string>& on) {
  Keyed out;
  json params = json::parse(params_json, nullptr, false);
  ojson shown = ojson::object();
  json values = json::array();
  out.complete = params.is_object();
  for (const auto& k : on) {
    auto it = params.is_object() ? params.find(k) : params.end();
    if (!params.is_object() || it == params.end()) {
      out.complete = false;
      continue;
    }
    shown[k] = ojson::parse(it->dump());
    values.push_back(CanonicalJson(*it));
  }
  if (out.complete) out.bucket = values.dump();
  out.on_json = shown.dump();
  return out;
}

std::string JoinedName(const std::string& experiment, const std::string& metric, bool in_both) {
  return in_both ? experiment + ":" + metric : metric;
}

std::string KeysText(const std::vector<std::string>& on) {
  std::string out;
  for (const auto& k : on) out += (out.empty() ? "" : ",") + k;
  return out;
}

}  // namespace

std::vector<std::string> SplitJoinKeys(std::string_view text) {
  std::vector<std::string> out;
  auto trim = [](std::string_view s) {
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
    return std::string(s);
  };
  if (trim(text).empty()) return out;
  // At most one item past the bound is kept: enough for ValidateJoin to refuse, and a long
  // list of commas costs nothing.
  size_t start = 0;
  while (out.size() <= kMaxJoinKeys) {
    size_t comma = text.find(',', start);
    out.push_back(trim(text.substr(start, comma == std::string_view::npos ? text.npos : comma - start)));
    if (comma == std::string_view::npos) break;
    start = comma + 1;
  }
  return out;
}

StatusOr<std::vector<storage::ResultRow>> ReadResultRows(storage::JobStore& store,
                                                         int64_t experiment_id,
                                                         const std::string& filter,
                                                         bool succeeded_only) {
  std::vector<storage::ResultRow> all;
  int64_t after = 0;
  for (;;) {
    ASSIGN_OR_RETURN(auto rows, store.QueryResults(experiment_id, after, 20000, filter));
    if (rows.empty()) break;
    after = rows.back().job_id;
    for (auto& r : rows) {
      if (!succeeded_only || r.state == storage::JobState::kSucceeded) all.push_back(std::move(r));
    }
  }
  return all;
}

Status ValidateKeysPolicy(const std::string& keys) {
  if (keys.empty() || keys == "group" || keys == "mix") return Status::Ok();
  return Status::InvalidArgument("keys must be group or mix (or unset), got '" + keys.substr(0, 64) + "'");
}

std::vector<JoinResult::KeyCount> CountKeys(const std::vector<storage::ResultRow>& rows) {
  std::vector<JoinResult::KeyCount> out;
  std::unordered_map<std::string, size_t> at;
  for (const auto& r : rows) {
    if (r.state != storage::JobState::kSucceeded) continue;
    auto [it, fresh] = at.emplace(r.environment_key, out.size());
    if (fresh) out.push_back({r.environment_key, 0, r.job_id});
    out[it->second].rows++;
  }
  std::stable_sort(out.begin(), out.end(), [](const auto& x, const auto& y) { return x.rows > y.rows; });
  return out;
}

Status ValidateJoin(const JoinSpec& spec) {
  if (spec.join.empty()) return Status::InvalidArgument("join: name the experiment to join with");
  RETURN_IF_ERROR(CheckSize(spec.join.size(), kMaxNameBytes, "join"));
  if (spec.join == spec.experiment) {
    return Status::InvalidArgument("join: '" + spec.join +
                                   "' is the experiment itself; name another experiment");
  }
  if (spec.on.empty()) {
    return Status::InvalidArgument("on: a join needs the params to pair rows on, e.g. "
                                   "datatype,group_size");
  }
  if (spec.on.size() > kMaxJoinKeys) {
    return Status::InvalidArgument("on: at most " + std::to_string(kMaxJoinKeys) +
                                   " params, got more");
  }
  std::set<std::string> seen;
  for (const auto& k : spec.on) {
    if (k.empty()) return Status::InvalidArgument("on: a param name is empty");
    RETURN_IF_ERROR(CheckSize(k.size(), kMaxNameBytes, "on: a param name"));
    if (!seen.insert(k).second) return Status::InvalidArgument("on: '" + k + "' is named twice");
  }
  return Status::Ok();
}

StatusOr<JoinResult> RunJoinQuery(storage::JobStore& store, const JoinSpec& spec) {
  if (spec.experiment.empty()) return Status::InvalidArgument("experiment is required");
  RETURN_IF_ERROR(ValidateJoin(spec));
  ASSIGN_OR_RETURN(auto a, store.GetExperiment(spec.experiment, 0));
  auto b = store.GetExperiment(spec.join, 0);
  if (!b.ok()) {
    if (b.status().code() != StatusCode::kNotFound) return b.status();
    return Status::InvalidArgument("join: no experiment named '" + spec.join + "'");
  }
  RETURN_IF_ERROR(ValidateKeysPolicy(spec.keys));
  ASSIGN_OR_RETURN(auto rows_a, ReadResultRows(store, a.id, spec.filter, spec.succeeded_only));
  ASSIGN_OR_RETURN(auto rows_b, ReadResultRows(store, b->id, spec.filter, spec.succeeded_only));
  JoinResult out;
  out.keys_a = CountKeys(rows_a);
  out.keys_b = CountKeys(rows_b);
  if (spec.keys.empty()) {
    for (const auto& [name, keys] : {std::pair{&a.name, &out.keys_a}, std::pair{&b->name, &out.keys_b}}) {
      if (keys->size() <= 1) continue;
      std::string listed;
      for (const auto& k : *keys) {
        listed += (listed.empty() ? "" : ", ") + (k.key.empty() ? std::string("(none reported)") : k.key) +
                  " (" + std::to_string(k.rows) + " rows)";
      }
      return Status::InvalidArgument(
          "keys: the succeeded results of " + *name + " come from " + std::to_string(keys->size()) +
          " environments (" + listed + "), which a join would mix silently; pass keys=group to "
          "tag each pair with its environment keys, or keys=mix");
    }
  }

  // Which names both sides have: from every metric the experiments stored, not only the rows
  // this filter kept, so that a name does not change with the filter.
  auto names_of = [&](int64_t id, const std::vector<storage::ResultRow>& rows) {
    std::vector<std::string> order = store.ExperimentMetricNames(id);
    std::set<std::string> names(order.begin(), order.end());
    for (const auto& r : rows) {
      for (const auto& m : r.metrics) {
        if (names.insert(m.name).second) order.push_back(m.name);
      }
    }
    return std::pair{order, names};
  };
  auto [order_a, names_a] = names_of(a.id, rows_a);
  auto [order_b, names_b] = names_of(b->id, rows_b);
  out.experiment_a = a.name;
  out.experiment_b = b->name;
  for (const auto& m : order_a) out.metric_names.push_back(JoinedName(a.name, m, names_b.count(m)));
  out.a_metrics = out.metric_names.size();
  for (const auto& m : order_b) out.metric_names.push_back(JoinedName(b->name, m, names_a.count(m)));

  std::vector<Keyed> keys_b;
  keys_b.reserve(rows_b.size());
  std::unordered_map<std::string, std::vector<size_t>> buckets;
  for (size_t i = 0; i < rows_b.size(); ++i) {
    keys_b.push_back(KeyOf(rows_b[i].params_json, spec.on));
    if (keys_b[i].complete) buckets[keys_b[i].bucket].push_back(i);
  }
  std::vector<Keyed> keys_a;
  keys_a.reserve(rows_a.size());
  int64_t pairs = 0;
  for (const auto& r : rows_a) {
    keys_a.push_back(KeyOf(r.params_json, spec.on));
    if (!keys_a.back().complete) continue;
    auto it = buckets.find(keys_a.back().bucket);
    if (it != buckets.end()) pairs += static_cast<int64_t>(it->second.size());
  }
  if (pairs > kMaxJoinedRows) {
    return Status::InvalidArgument(
        "on: pairing " + a.name + " and " + b->name + " on " + KeysText(spec.on) + " gives " +
        std::to_string(pairs) + " rows, more than " + std::to_string(kMaxJoinedRows) +
        " (rows that share their values pair each with each): add params to on, or a filter");
  }

  auto renamed = [](const std::vector<Metric>& metrics, const std::string& experiment,
                    const std::set<std::string>& other, std::vector<Metric>* into) {
    for (const auto& m : metrics) {
      into->push_back(m);
      into->back().name = JoinedName(experiment, m.name, other.count(m.name));
    }
  };
  std::vector<bool> b_paired(rows_b.size(), false);
  out.rows.reserve(static_cast<size_t>(pairs));
  for (size_t i = 0; i < rows_a.size(); ++i) {
    const auto& ra = rows_a[i];
    auto it = keys_a[i].complete ? buckets.find(keys_a[i].bucket) : buckets.end();
    if (it == buckets.end()) {
      out.unmatched_a.push_back({ra.job_id, ra.state, keys_a[i].on_json});
      continue;
    }
    for (size_t j : it->second) {
      const auto& rb = rows_b[j];
      b_paired[j] = true;
      JoinedRow row{keys_a[i].on_json, ra.job_id, rb.job_id, ra.state, rb.state, {},
                    ra.environment_key, rb.environment_key,
                    ra.backend == "fallback" || rb.backend == "fallback"};
      row.metrics.reserve(ra.metrics.size() + rb.metrics.size());
      renamed(ra.metrics, a.name, names_b, &row.metrics);
      renamed(rb.metrics, b->name, names_a, &row.metrics);
      out.rows.push_back(std::move(row));
    }
  }
  for (size_t j = 0; j < rows_b.size(); ++j) {
    if (!b_paired[j]) out.unmatched_b.push_back({rows_b[j].job_id, rows_b[j].state, keys_b[j].on_json});
  }
  return out;
}

StatusOr<std::string> ResolveJoinedMetric(const JoinResult& join, const std::string& name,
                                          std::string_view field) {
  const std::set<std::string> names(join.metric_names.begin(), join.metric_names.end());
  if (names.count(name)) return name;
  const std::string f(field);
  // A prefixed name for a metric only that side has stands for the plain name.
  const auto a_end = join.metric_names.begin() + static_cast<ptrdiff_t>(join.a_metrics);
  const std::pair<const std::string*, std::vector<std::string>> sides[] = {
      {&join.experiment_a, {join.metric_names.begin(), a_end}},
      {&join.experiment_b, {a_end, join.metric_names.end()}}};
  for (const auto& [experiment, own] : sides) {
    const std::string prefix = *experiment + ":";
    if (name.size() <= prefix.size() || name.compare(0, prefix.size(), prefix) != 0) continue;
    const std::string plain = name.substr(prefix.size());
    for (const auto& m : own) {
      if (m == plain) return plain;
    }
  }
  if (names.count(join.experiment_a + ":" + name) && names.count(join.experiment_b + ":" + name)) {
    return Status::InvalidArgument(f + ": metric '" + name + "' is in both " + join.experiment_a +
                                   " and " + join.experiment_b + "; write '" + join.experiment_a +
                                   ":" + name + "' or '" + join.experiment_b + ":" + name + "'");
  }
  std::string known;
  for (size_t i = 0; i < join.metric_names.size() && i < 32; ++i) {
    known += (i ? ", " : "") + join.metric_names[i];
  }
  if (join.metric_names.size() > 32) known += ", ...";
  return Status::InvalidArgument(f + ": '" + name + "' is not a metric of the join of " +
                                 join.experiment_a + " and " + join.experiment_b +
                                 (known.empty() ? " (it has none)" : " (metrics: " + known + ")"));
}

}  // namespace qlab::server
