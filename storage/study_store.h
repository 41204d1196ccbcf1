// StudyStore: the SQLite side of studies (DESIGN.md §10 `search`): which experiments are
// studies, their normalised search blocks, and each trial's index, job and assignment.
//
// A trial is written in the transaction that creates its job (AddTrial), so the set of trials
// after any crash is exactly the set of jobs: the study runner numbers the next trial from it,
// never repeating or losing one. Reads and writes go through the JobStore's single writer:
// studies are read a few times a second, far below what would need a reader of their own.
// Thread-safe.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "common/status.h"
#include "storage/job_store.h"
#include "storage/records.h"

namespace qlab::storage {

struct StudyRecord {
  int64_t experiment_id = 0;
  std::string experiment;  // its name
  std::string kind;        // the kind of its jobs
  std::string spec_json;   // the normalised search block (server/study_spec.h)
  bool done = false;
  int64_t created_unix_ms = 0;
};

struct TrialRecord {
  int64_t trial = 0;
  int64_t job_id = 0;
  std::string assignment_json;  // the sampler's values per gene, a JSON array
  JobState state = JobState::kPending;
  std::string last_error;
  std::map<std::string, double> metrics;  // of a succeeded job
};

class StudyStore {
 public:
  explicit StudyStore(JobStore* jobs) : jobs_(jobs) {}

  // Creates the experiment (no jobs yet) and its study in one transaction. ALREADY_EXISTS when
  // the name is taken.
  StatusOr<int64_t> CreateStudy(const ExperimentRecord& experiment, const std::string& spec_json,
                                int64_t now_ms);
  // Creates trial `trial`'s job and its study_trial row in one transaction. ALREADY_EXISTS when
  // the trial exists (a second runner, or a retried call): nothing is written.
  StatusOr<JobRecord> AddTrial(int64_t experiment_id, int64_t trial,
                               const std::string& assignment_json, const JobSpec& spec,
                               int64_t now_ms);
  Status MarkDone(int64_t experiment_id);

  // Studies not done, oldest first.
  StatusOr<std::vector<StudyRecord>> ActiveStudies();
  // NOT_FOUND when `experiment` is not a study.
  StatusOr<StudyRecord> GetStudy(const std::string& experiment);
  // Every trial of a study by index, with its job's state and, once succeeded, the metrics
  // named in `metrics` (a study reads its objectives, not every metric of every trial).
  StatusOr<std::vector<TrialRecord>> Trials(int64_t experiment_id,
                                            const std::vector<std::string>& metrics);

 private:
  JobStore* jobs_;
};

}  // namespace qlab::storage
