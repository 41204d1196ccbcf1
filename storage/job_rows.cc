// Row writers shared by the stores (see job_rows.h).
#include "storage/job_rows.h"

#include <cstring>
#include <map>
#include <string>
#include <type_traits>
#include <variant>

namespace qlab::storage {

namespace {
Status InsertJob(Connection& c, int64_t experiment_id, const JobSpec& spec, int64_t now_ms,
                 int64_t* id) {
  ASSIGN_OR_RETURN(Statement * s,
                   c.Prepare("INSERT INTO job(experiment_id, kind, params_json, device_class, "
                             "device_model_pattern, min_memory_bytes, exclusive, priority, state, "
                             "max_attempts, created_unix_ms, timeout_s) "
                             "VALUES (?,?,?,?,?,?,?,?,?,?,?,?)"));
  s->Bind(1, experiment_id)
      .Bind(2, spec.kind)
      .Bind(3, spec.params_json)
      .Bind(4, spec.requirements.device_class)
      .Bind(5, spec.requirements.device_model_pattern)
      .Bind(6, static_cast<int64_t>(spec.requirements.min_memory_bytes))
      .Bind(7, spec.requirements.exclusive ? 1 : 0)
      .Bind(8, spec.priority)
      .Bind(9, kPending)
      .Bind(10, spec.max_attempts)
      .Bind(11, now_ms)
      .Bind(12, spec.timeout_s);
  RETURN_IF_ERROR(s->Run());
  *id = c.LastInsertRowId();
  return Status::Ok();
}
}  // namespace

Status InsertJobs(Connection& c, int64_t experiment_id, const std::vector<JobSpec>& specs,
                  int64_t now_ms, int64_t* first_id) {
  std::map<std::string, int64_t> per_kind;
  for (size_t i = 0; i < specs.size(); ++i) {
    int64_t id = 0;
    RETURN_IF_ERROR(InsertJob(c, experiment_id, specs[i], now_ms, &id));
    if (i == 0) *first_id = id;
    ++per_kind[specs[i].kind];
  }
  ASSIGN_OR_RETURN(Statement * count,
                   c.Prepare("INSERT INTO job_count(experiment_id, kind, state, n) VALUES (?,?,?,?) "
                             "ON CONFLICT(experiment_id, kind, state) DO UPDATE SET n = n + excluded.n"));
  for (const auto& [kind, n] : per_kind) {
    count->Bind(1, experiment_id).Bind(2, kind).Bind(3, kPending).Bind(4, n);
    RETURN_IF_ERROR(count->Run());
  }
  return Status::Ok();
}


std::vector<double> SamplesFromBlob(const std::string& blob) {
  std::vector<double> samples(blob.size() / sizeof(double));
  std::memcpy(samples.data(), blob.data(), samples.size() * sizeof(double));
  return samples;
}

Status FinishAttempt(Connection& c, int64_t token, const std::string& outcome,
                     const std::string& error, const std::string& failure_class,
                     int64_t started_ms, int64_t finished_ms) {
  ASSIGN_OR_RETURN(Statement * s,
                   c.Prepare("UPDATE attempt SET outcome=?, error=?, failure_class=?, "
                             "finished_unix_ms=?, "
                             "started_unix_ms=CASE WHEN ?>0 THEN ? ELSE started_unix_ms END "
                             "WHERE token=?"));
  s->Bind(1, outcome).Bind(2, error).Bind(3, failure_class).Bind(4, finished_ms)
      .Bind(5, started_ms).Bind(6, started_ms).Bind(7, token);
  return s->Run();
}


Status InsertExperiment(Connection& c, const ExperimentRecord& e, int64_t now_ms, int64_t* id) {
  ASSIGN_OR_RETURN(Statement * s,
                   c.Prepare("INSERT INTO experiment(name, owner, kind, created_unix_ms, "
                             "spec_json, tags_json) VALUES (?,?,?,?,?,?)"));
  s->Bind(1, e.name).Bind(2, e.owner).Bind(3, e.kind).Bind(4, now_ms).Bind(5, e.spec_json).Bind(
      6, e.tags_json);
  Status st = s->Run();
  if (st.code() == StatusCode::kAlreadyExists) {
    s->Reset();
    return Status::AlreadyExists("experiment '" + e.name + "' already exists; choose another name");
  }
  RETURN_IF_ERROR(st);
  *id = c.LastInsertRowId();
  return Status::Ok();
}


void BindCompiled(Statement* s, const CompiledFilter& compiled) {
  for (const auto& [name, value] : compiled.binds) {
    int idx = s->ParamIndex(name.c_str());
    if (idx <= 0) continue;
    std::visit([&](const auto& v) {
      if constexpr (std::is_same_v<std::decay_t<decltype(v)>, std::string>) {
        s->Bind(idx, std::string_view(v));
      } else {
        s->Bind(idx, v);
      }
    }, value);
  }
}

}  // namespace qlab::storage
