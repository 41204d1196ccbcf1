// The study runner (see study_runner.h).
#include "server/study_runner.h"

#include <spdlog/spdlog.h>

#include <chrono>

namespace qlab::server {

using nlohmann::json;

std::vector<std::string> ObjectiveMetrics(const StudySpec& spec) {
  std::vector<std::string> names;
  for (const search::Objective& o : spec.objectives) names.push_back(o.metric);
  return names;
}

std::vector<TrialView> TrialViews(const StudySpec& spec,
                                  const std::vector<storage::TrialRecord>& trials) {
  std::vector<TrialView> views;
  views.reserve(trials.size());
  for (const storage::TrialRecord& t : trials) {
    TrialView v;
    v.trial = t.trial;
    v.job_id = t.job_id;
    v.state = t.state;
    v.error = t.last_error;
    const json assignment = json::parse(t.assignment_json, nullptr, /*allow_exceptions=*/false);
    if (assignment.is_array()) {
      for (const json& value : assignment) {
        v.assignment.push_back(value.is_number() ? value.get<double>() : -1.0);
      }
    }
    if (t.state == storage::JobState::kSucceeded) {
      for (const search::Objective& o : spec.objectives) {
        const auto it = t.metrics.find(o.metric);
        if (it == t.metrics.end()) {
          v.values.clear();
          v.error = "objective metric '" + o.metric + "' was not reported";
          break;
        }
        v.values.push_back(it->second);
      }
    }
    views.push_back(std::move(v));
  }
  return views;
}

StudyRunner::StudyRunner(storage::JobStore* store, Scheduler* scheduler, const Clock* clock)
    : studies_(store), scheduler_(scheduler), clock_(clock) {}

StudyRunner::~StudyRunner() { Stop(); }

StatusOr<int64_t> StudyRunner::CreateStudy(const storage::ExperimentRecord& experiment,
                                           const StudySpec& spec) {
  ASSIGN_OR_RETURN(const int64_t id,
                   studies_.CreateStudy(experiment, StudySpecToJson(spec), clock_->NowMs()));
  Wake();
  return id;
}

void StudyRunner::Start(int64_t interval_ms) {
  thread_ = std::thread([this, interval_ms] {
    for (;;) {
      {
        std::unique_lock lock(wake_mu_);
        wake_cv_.wait_for(lock, std::chrono::milliseconds(interval_ms),
                          [this] { return woken_ || stopping_; });
        if (stopping_) return;
        woken_ = false;
      }
      if (Status s = Step(); !s.ok()) spdlog::warn("qlab-server: studies: {}", s.ToString());
    }
  });
}

void StudyRunner::Stop() {
  {
    std::lock_guard lock(wake_mu_);
    stopping_ = true;
  }
  wake_cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void StudyRunner::Wake() {
  {
    std::lock_guard lock(wake_mu_);
    woken_ = true;
  }
  wake_cv_.notify_all();
}

Status StudyRunner::Step() {
  std::lock_guard lock(step_mu_);
  ASSIGN_OR_RETURN(const std::vector<storage::StudyRecord> studies, studies_.ActiveStudies());
  Status first_error;
  for (const storage::StudyRecord& study : studies) {
    auto it = active_.find(study.experiment_id);
    if (it == active_.end()) {
      auto spec = StudySpecFromJson(study.spec_json);
      if (!spec.ok()) {
        // A stored spec this build cannot read: the study stops rather than looping on it.
        spdlog::error("qlab-server: study '{}' cannot be read ({}); marking it done",
                      study.experiment, spec.status().ToString());
        RETURN_IF_ERROR(studies_.MarkDone(study.experiment_id));
        continue;
      }
      auto sampler = MakeSampler(*spec);
      if (!sampler.ok()) return sampler.status();
      it = active_.emplace(study.experiment_id, Active{std::move(*spec), std::move(*sampler)}).first;
    }
    Status s = StepStudy(study, it->second);
    if (!s.ok() && first_error.ok()) first_error = s;
  }
  return first_error;
}

Status StudyRunner::StepStudy(const storage::StudyRecord& study, Active& active) {
  const StudySpec& spec = active.spec;
  ASSIGN_OR_RETURN(const std::vector<storage::TrialRecord> stored,
                   studies_.Trials(study.experiment_id, ObjectiveMetrics(spec)));
  const std::vector<TrialView> trials = TrialViews(spec, stored);
  int64_t in_flight = 0;
  bool cancelled = false;
  for (const TrialView& t : trials) {
    search::TrialState state = search::TrialState::kRunning;
    switch (t.state) {
      case storage::JobState::kSucceeded:
        state = t.values.size() == spec.objectives.size() ? search::TrialState::kComplete
                                                          : search::TrialState::kFailed;
        break;
      case storage::JobState::kCancelled:
        cancelled = true;
        state = search::TrialState::kFailed;
        break;
      case storage::JobState::kFailed:
        state = search::TrialState::kFailed;
        break;
      default:
        ++in_flight;
        break;
    }
    active.sampler->Tell(t.trial, t.assignment, state, t.values);
  }
  int64_t next = static_cast<int64_t>(trials.size());
  while (!cancelled && in_flight < spec.parallel && next < spec.trials) {
    const search::Assignment assignment = active.sampler->Ask(next);
    auto job = TrialJobSpec(spec, assignment);
    if (job.ok() && job->max_attempts <= 0) {
      job->max_attempts = scheduler_->options().default_max_attempts;
    }
    if (!job.ok()) {
      spdlog::error("qlab-server: study '{}' trial {}: {}; the study stops", study.experiment,
                    next, job.status().ToString());
      cancelled = true;
      break;
    }
    auto record = studies_.AddTrial(study.experiment_id, next, json(assignment).dump(), *job,
                                    clock_->NowMs());
    if (!record.ok()) return record.status();
    scheduler_->AdoptJob(*record);
    active.sampler->Tell(next, assignment, search::TrialState::kRunning);
    ++next;
    ++in_flight;
  }
  if (in_flight == 0 && (cancelled || next >= spec.trials)) {
    RETURN_IF_ERROR(studies_.MarkDone(study.experiment_id));
    active_.erase(study.experiment_id);
    spdlog::info("qlab-server: study '{}' done: {} trials{}", study.experiment, next,
                 cancelled ? " (stopped)" : "");
  }
  return Status::Ok();
}

StatusOr<json> StudyRunner::Report(const std::string& experiment) {
  ASSIGN_OR_RETURN(const storage::StudyRecord study, studies_.GetStudy(experiment));
  ASSIGN_OR_RETURN(const StudySpec spec, StudySpecFromJson(study.spec_json));
  ASSIGN_OR_RETURN(const std::vector<storage::TrialRecord> trials,
                   studies_.Trials(study.experiment_id, ObjectiveMetrics(spec)));
  return StudyReport(study.experiment, spec, study.done, TrialViews(spec, trials));
}

}  // namespace qlab::server
