-- Version 5: can a figure be trusted and compared (README "Can I trust this number?").
--
-- job.comparability_key  hash of the kind, the canonical params and environment_key: two
--                        figures with the same key are the same measurement. '' = unknown.
-- job.environment_key    hash of job.context_json without its "kernel" part: what the figure
--                        depends on besides the params. Pareto fronts and joins group by it.
-- job.context_json       the facts the keys hash (evaluator and protocol versions, device,
--                        driver, runtime, BLAS and threads, governor, qlab build, kernel).
-- job.backend            native | emulated | fallback | vendor | '' (the kernel that ran).
-- job.flag               why the figure is suspect ('' = nothing known against it), e.g. its
--                        device's drift canary failed after it was measured.
-- attempt.device         the device (Device.name) the attempt was leased on.
-- canary                 drift canaries: one row per measurement of a worker's device, with
--                        the baseline it was judged against and the verdict (baseline | ok |
--                        drift). A device whose latest verdict is drift is quarantined.
ALTER TABLE job ADD COLUMN comparability_key TEXT NOT NULL DEFAULT '';
ALTER TABLE job ADD COLUMN environment_key TEXT NOT NULL DEFAULT '';
ALTER TABLE job ADD COLUMN context_json TEXT NOT NULL DEFAULT '';
ALTER TABLE job ADD COLUMN backend TEXT NOT NULL DEFAULT '';
ALTER TABLE job ADD COLUMN flag TEXT NOT NULL DEFAULT '';
ALTER TABLE attempt ADD COLUMN device TEXT NOT NULL DEFAULT '';
CREATE INDEX attempt_by_worker_finish ON attempt(worker_id, finished_unix_ms);
CREATE TABLE canary (
  id                  INTEGER PRIMARY KEY,
  worker_id           TEXT NOT NULL,
  device              TEXT NOT NULL,
  canary              TEXT NOT NULL,
  measured_unix_ms    INTEGER NOT NULL,
  median_us           REAL NOT NULL,
  samples_us          BLOB NOT NULL,
  baseline_median_us  REAL NOT NULL,
  baseline_spread_us  REAL NOT NULL,
  z                   REAL NOT NULL,
  verdict             TEXT NOT NULL
);
CREATE INDEX canary_by_device ON canary(worker_id, device, id);
