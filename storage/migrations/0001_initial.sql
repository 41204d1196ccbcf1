-- qlab schema, version 1. Every timestamp is milliseconds since the Unix epoch (0 = not yet).
-- Enum columns hold the numeric values of qlab.v1 enums (proto/qlab/v1/common.proto).
--
-- experiment      a named sweep: its spec (the sweep JSON as submitted) expands into jobs.
-- job             one unit of work. state: JobState; attempts: leases granted so far;
--                 live_token: fencing token of the live attempt (NULL when no lease is live) —
--                 a completion is accepted only with this token, in the transaction that ends
--                 the job. Requirement columns mirror qlab.v1.Requirements.
-- attempt         one lease: token is the fencing token (unique, increasing); outcome is ''
--                 while live, else succeeded|failed|expired|released|cancelled.
-- worker          a registered worker; devices_json/kinds_json/labels_json are JSON arrays/objects.
-- result          one metric of a job: (job_id, name) is unique, so no metric is written twice.
-- latency_sample  latency of one architecture: samples_us is a BLOB of little-endian float64
--                 microseconds in measurement order; summary columns in microseconds; cv is
--                 stddev/mean (dimensionless); unstable is 0/1.
-- artifact        a blob produced by a job (content), or a path to one on shared storage.

CREATE TABLE experiment (
  id               INTEGER PRIMARY KEY,
  name             TEXT NOT NULL UNIQUE,
  owner            TEXT NOT NULL DEFAULT '',
  kind             TEXT NOT NULL,
  created_unix_ms  INTEGER NOT NULL,
  spec_json        TEXT NOT NULL,
  tags_json        TEXT NOT NULL DEFAULT '[]'
);

CREATE TABLE job (
  id                    INTEGER PRIMARY KEY,
  experiment_id         INTEGER NOT NULL REFERENCES experiment(id),
  kind                  TEXT NOT NULL,
  params_json           TEXT NOT NULL,
  device_class          INTEGER NOT NULL DEFAULT 0,
  device_model_pattern  TEXT NOT NULL DEFAULT '',
  min_memory_bytes      INTEGER NOT NULL DEFAULT 0,
  exclusive             INTEGER NOT NULL DEFAULT 0,
  priority              INTEGER NOT NULL DEFAULT 0,
  state                 INTEGER NOT NULL,
  attempts              INTEGER NOT NULL DEFAULT 0,
  max_attempts          INTEGER NOT NULL,
  live_token            INTEGER,
  worker_id             TEXT NOT NULL DEFAULT '',
  last_error            TEXT NOT NULL DEFAULT '',
  created_unix_ms       INTEGER NOT NULL,
  started_unix_ms       INTEGER NOT NULL DEFAULT 0,
  finished_unix_ms      INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX job_by_experiment ON job(experiment_id, state);
CREATE INDEX job_by_state ON job(state);

CREATE TABLE attempt (
  token                 INTEGER PRIMARY KEY,
  job_id                INTEGER NOT NULL REFERENCES job(id),
  worker_id             TEXT NOT NULL,
  leased_unix_ms        INTEGER NOT NULL,
  started_unix_ms       INTEGER NOT NULL DEFAULT 0,
  finished_unix_ms      INTEGER NOT NULL DEFAULT 0,
  lease_expiry_unix_ms  INTEGER NOT NULL,
  outcome               TEXT NOT NULL DEFAULT '',
  error                 TEXT NOT NULL DEFAULT ''
);
CREATE INDEX attempt_by_job ON attempt(job_id);

CREATE TABLE worker (
  id                      TEXT PRIMARY KEY,
  host                    TEXT NOT NULL,
  devices_json            TEXT NOT NULL,
  kinds_json              TEXT NOT NULL,
  slots                   INTEGER NOT NULL,
  labels_json             TEXT NOT NULL DEFAULT '{}',
  version                 TEXT NOT NULL DEFAULT '',
  registered_unix_ms      INTEGER NOT NULL,
  last_heartbeat_unix_ms  INTEGER NOT NULL
);

CREATE TABLE result (
  job_id            INTEGER NOT NULL REFERENCES job(id),
  name              TEXT NOT NULL,
  value             REAL NOT NULL,
  unit              TEXT NOT NULL DEFAULT '',
  stderr            REAL NOT NULL DEFAULT 0,
  higher_is_better  INTEGER NOT NULL DEFAULT 0,
  PRIMARY KEY (job_id, name)
) WITHOUT ROWID;
CREATE INDEX result_by_name ON result(name, job_id);

CREATE TABLE latency_sample (
  id            INTEGER PRIMARY KEY,
  job_id        INTEGER NOT NULL REFERENCES job(id),
  arch_key      TEXT NOT NULL,
  device        TEXT NOT NULL,
  batch         INTEGER NOT NULL,
  samples_us    BLOB NOT NULL,
  median_us     REAL NOT NULL,
  mean_us       REAL NOT NULL,
  p10_us        REAL NOT NULL,
  p90_us        REAL NOT NULL,
  min_us        REAL NOT NULL,
  stddev_us     REAL NOT NULL,
  cv            REAL NOT NULL,
  unstable      INTEGER NOT NULL,
  context_json  TEXT NOT NULL
);
CREATE INDEX latency_sample_by_job ON latency_sample(job_id);
CREATE INDEX latency_sample_by_device ON latency_sample(device, arch_key);

CREATE TABLE artifact (
  id          INTEGER PRIMARY KEY,
  job_id      INTEGER NOT NULL REFERENCES job(id),
  name        TEXT NOT NULL,
  media_type  TEXT NOT NULL,
  content     BLOB,
  path        TEXT NOT NULL DEFAULT ''
);
CREATE INDEX artifact_by_job ON artifact(job_id);
