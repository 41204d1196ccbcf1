// Row writers shared by the stores of one SQLite file (job_store.cc, study_store.cc). Internal
// to storage/: callers hold the write connection inside a WriteQueue transaction.
#pragma once

#include <cstdint>

#include "common/status.h"
#include "storage/records.h"
#include "storage/sqlite.h"

namespace qlab::storage {

// Inserts a PENDING job of `experiment_id`; *id receives its id.
Status InsertJob(Connection& c, int64_t experiment_id, const JobSpec& spec, int64_t now_ms,
                 int64_t* id);
// Inserts an experiment; ALREADY_EXISTS (naming it) when the name is taken.
Status InsertExperiment(Connection& c, const ExperimentRecord& e, int64_t now_ms, int64_t* id);

}  // namespace qlab::storage
