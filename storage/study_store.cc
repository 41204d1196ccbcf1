// Studies in SQLite (see study_store.h).
#include "storage/study_store.h"

#include "storage/job_rows.h"

namespace qlab::storage {
namespace {

const char* const kStudyColumns =
    "s.experiment_id, e.name, e.kind, s.spec_json, s.done, s.created_unix_ms";

StudyRecord ReadStudy(const Statement& s) {
  StudyRecord r;
  r.experiment_id = s.Int(0);
  r.experiment = s.Text(1);
  r.kind = s.Text(2);
  r.spec_json = s.Text(3);
  r.done = s.Int(4) != 0;
  r.created_unix_ms = s.Int(5);
  return r;
}

}  // namespace

StatusOr<int64_t> StudyStore::CreateStudy(const ExperimentRecord& experiment,
                                          const std::string& spec_json, int64_t now_ms) {
  int64_t id = 0;
  RETURN_IF_ERROR(jobs_->writer().Run([&](Connection& c) -> Status {
    RETURN_IF_ERROR(InsertExperiment(c, experiment, now_ms, &id));
    ASSIGN_OR_RETURN(Statement * s, c.Prepare("INSERT INTO study(experiment_id, spec_json, "
                                              "created_unix_ms) VALUES (?,?,?)"));
    s->Bind(1, id).Bind(2, spec_json).Bind(3, now_ms);
    return s->Run();
  }));
  return id;
}

StatusOr<JobRecord> StudyStore::AddTrial(int64_t experiment_id, int64_t trial,
                                         const std::string& assignment_json, const JobSpec& spec,
                                         int64_t now_ms) {
  int64_t job_id = 0;
  RETURN_IF_ERROR(jobs_->writer().Run([&](Connection& c) -> Status {
    ASSIGN_OR_RETURN(Statement * exists, c.Prepare("SELECT 1 FROM study_trial WHERE "
                                                   "experiment_id=? AND trial=?"));
    exists->Bind(1, experiment_id).Bind(2, trial);
    ASSIGN_OR_RETURN(const bool found, exists->Step());
    exists->Reset();
    if (found) {
      return Status::AlreadyExists("trial " + std::to_string(trial) + " of study " +
                                   std::to_string(experiment_id) + " exists");
    }
    RETURN_IF_ERROR(InsertJobs(c, experiment_id, {spec}, now_ms, &job_id));
    ASSIGN_OR_RETURN(Statement * s, c.Prepare("INSERT INTO study_trial(experiment_id, trial, "
                                              "job_id, assignment_json) VALUES (?,?,?,?)"));
    s->Bind(1, experiment_id).Bind(2, trial).Bind(3, job_id).Bind(4, assignment_json);
    return s->Run();
  }));
  jobs_->NoteJobsStored(experiment_id, {{job_id, spec}});
  return jobs_->GetJob(job_id);
}

Status StudyStore::MarkDone(int64_t experiment_id) {
  return jobs_->writer().Run([&](Connection& c) -> Status {
    ASSIGN_OR_RETURN(Statement * s, c.Prepare("UPDATE study SET done=1 WHERE experiment_id=?"));
    s->Bind(1, experiment_id);
    return s->Run();
  });
}

StatusOr<std::vector<StudyRecord>> StudyStore::ActiveStudies() {
  std::vector<StudyRecord> out;
  RETURN_IF_ERROR(jobs_->writer().Run([&](Connection& c) -> Status {
    ASSIGN_OR_RETURN(Statement * s,
                     c.Prepare(std::string("SELECT ") + kStudyColumns +
                               " FROM study s JOIN experiment e ON e.id = s.experiment_id "
                               "WHERE s.done = 0 ORDER BY s.experiment_id"));
    while (true) {
      ASSIGN_OR_RETURN(const bool row, s->Step());
      if (!row) break;
      out.push_back(ReadStudy(*s));
    }
    s->Reset();
    return Status::Ok();
  }));
  return out;
}

StatusOr<StudyRecord> StudyStore::GetStudy(const std::string& experiment) {
  StudyRecord record;
  bool found = false;
  RETURN_IF_ERROR(jobs_->writer().Run([&](Connection& c) -> Status {
    ASSIGN_OR_RETURN(Statement * s,
                     c.Prepare(std::string("SELECT ") + kStudyColumns +
                               " FROM study s JOIN experiment e ON e.id = s.experiment_id "
                               "WHERE e.name = ?"));
    s->Bind(1, experiment);
    ASSIGN_OR_RETURN(found, s->Step());
    if (found) record = ReadStudy(*s);
    s->Reset();
    return Status::Ok();
  }));
  if (!found) return Status::NotFound("experiment '" + experiment + "' is not a study");
  return record;
}

StatusOr<std::vector<TrialRecord>> StudyStore::Trials(int64_t experiment_id,
                                                      const std::vector<std::string>& metrics) {
  std::vector<TrialRecord> out;
  RETURN_IF_ERROR(jobs_->writer().Run([&](Connection& c) -> Status {
    ASSIGN_OR_RETURN(Statement * s,
                     c.Prepare("SELECT t.trial, t.job_id, t.assignment_json, j.state, "
                               "j.last_error FROM study_trial t JOIN job j ON j.id = t.job_id "
                               "WHERE t.experiment_id = ? ORDER BY t.trial"));
    s->Bind(1, experiment_id);
    while (true) {
      ASSIGN_OR_RETURN(const bool row, s->Step());
      if (!row) break;
      TrialRecord t;
      t.trial = s->Int(0);
      t.job_id = s->Int(1);
      t.assignment_json = s->Text(2);
      t.state = static_cast<JobState>(s->Int(3));
      t.last_error = s->Text(4);
      out.push_back(std::move(t));
    }
    s->Reset();
    // One indexed lookup per metric (result's key is (job_id, name)).
    ASSIGN_OR_RETURN(Statement * m,
                     c.Prepare("SELECT t.trial, r.value FROM study_trial t JOIN result r "
                               "ON r.job_id = t.job_id AND r.name = ? WHERE t.experiment_id = ? "
                               "ORDER BY t.trial"));
    for (const std::string& metric : metrics) {
      m->Bind(1, metric).Bind(2, experiment_id);
      size_t next = 0;
      while (true) {
        ASSIGN_OR_RETURN(const bool row, m->Step());
        if (!row) break;
        const int64_t trial = m->Int(0);
        while (next < out.size() && out[next].trial < trial) ++next;
        if (next < out.size() && out[next].trial == trial) out[next].metrics[metric] = m->Double(1);
      }
      m->Reset();
    }
    return Status::Ok();
  }));
  return out;
}

}  // namespace qlab::storage
