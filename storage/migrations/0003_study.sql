-- Version 3: studies (DESIGN.md §10 `search`): an experiment whose jobs a sampler proposes
-- from the finished ones. `study` holds the normalised search block; `study_trial` ties each
-- trial index to its job, written in the transaction that creates the job, so a restarted
-- coordinator knows exactly which trials exist and never repeats or loses one.
CREATE TABLE study (
  experiment_id    INTEGER PRIMARY KEY REFERENCES experiment(id),
  spec_json        TEXT NOT NULL,
  done             INTEGER NOT NULL DEFAULT 0,
  created_unix_ms  INTEGER NOT NULL
);
CREATE TABLE study_trial (
  experiment_id    INTEGER NOT NULL REFERENCES study(experiment_id),
  trial            INTEGER NOT NULL,
  job_id           INTEGER NOT NULL UNIQUE REFERENCES job(id),
  assignment_json  TEXT NOT NULL,
  PRIMARY KEY (experiment_id, trial)
) WITHOUT ROWID;
