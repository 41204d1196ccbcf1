// Drives studies: for each active study, tells its sampler what the finished trials measured,
// asks for new trials while fewer than `parallel` are in flight and the budget is not spent,
// stores each trial with its job in one transaction (storage/study_store.h) and hands the job
// to the scheduler; a study whose budget is spent and whose trials have all ended is done.
//
// Restart: nothing lives only in memory. A new runner rebuilds each sampler by re-telling the
// stored trials in index order and numbers the next trial from the stored count, so a study
// interrupted by a coordinator crash ends with exactly its budget of trials. A study any of
// whose trials was cancelled (`qlab cancel --experiment`) stops proposing and is done.
// Thread-safe.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>

#include "common/status.h"
#include "server/clock.h"
#include "server/scheduler.h"
#include "server/study_spec.h"
#include "storage/study_store.h"

namespace qlab::server {

class StudyRunner {
 public:
  StudyRunner(storage::JobStore* store, Scheduler* scheduler, const Clock* clock);
  ~StudyRunner();

  // Creates a study from a sweep that has `search` (the experiment and no jobs yet) and wakes
  // the runner. ALREADY_EXISTS when the name is taken.
  StatusOr<int64_t> CreateStudy(const storage::ExperimentRecord& experiment,
                                const StudySpec& spec);

  // Runs Step() every `interval_ms` and whenever woken (a study created, a job finished) on a
  // thread until Stop().
  void Start(int64_t interval_ms = 1000);
  void Stop();
  void Wake();

  // One pass over every active study (see above). Tests call it directly.
  Status Step();

  // The study's report (study_spec.h: StudyReport). NOT_FOUND when it is not a study.
  StatusOr<nlohmann::json> Report(const std::string& experiment);

 private:
  struct Active {
    StudySpec spec;
    std::unique_ptr<search::Sampler> sampler;
  };
  Status StepStudy(const storage::StudyRecord& study, Active& active);

  storage::StudyStore studies_;
  Scheduler* scheduler_;
  const Clock* clock_;
  std::mutex step_mu_;                  // one Step at a time
  std::map<int64_t, Active> active_;    // by experiment id; guarded by step_mu_
  std::mutex wake_mu_;
  std::condition_variable wake_cv_;
  bool woken_ = false;                  // guarded by wake_mu_
  bool stopping_ = false;               // guarded by wake_mu_
  std::thread thread_;
};

// The metric names of a study's objectives, in order.
std::vector<std::string> ObjectiveMetrics(const StudySpec& spec);

// The trials of a stored study as the sampler and the report see them.
std::vector<TrialView> TrialViews(const StudySpec& spec,
                                  const std::vector<storage::TrialRecord>& trials);

}  // namespace qlab::server
