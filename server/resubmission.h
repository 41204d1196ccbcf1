// Idempotent resubmission (README "Can I trust this number?"): a sweep submitted again under
// an existing experiment's name runs only what the experiment lacks, so a crashed or cancelled
// sweep resumes by resubmitting it and a finished one costs nothing to resubmit.
//
// A wanted job and an existing one are the same when kind, canonical params and requirements
// are equal (server/comparability.h JobIdentity). Each existing job answers for one wanted job:
//   SUCCEEDED, PENDING, LEASED, RUNNING  reused (with `force`, only those not yet finished)
//   FAILED, CANCELLED                     queued again in place (attempt history kept)
//   none left                             a new job
#pragma once

#include <cstdint>
#include <vector>

#include "storage/records.h"

namespace qlab::server {

struct ResubmissionPlan {
  std::vector<storage::JobSpec> add;  // new jobs, in sweep order
  std::vector<int64_t> requeue;       // FAILED or CANCELLED jobs to run again
  int64_t reused = 0;                 // wanted jobs whose result exists or is on its way
};

ResubmissionPlan PlanResubmission(const std::vector<storage::JobRecord>& existing,
                                  std::vector<storage::JobSpec> wanted, bool force);

}  // namespace qlab::server
