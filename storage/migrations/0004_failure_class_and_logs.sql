-- Version 4: why attempts fail, what they printed, and how long a job may run.
--
-- job.failure_class      '' unless FAILED: job_error (bad params or input; not retried),
--                        poison (crashed the evaluator max_attempts times), infrastructure
--                        (lost workers or device errors past the server's limit).
-- job.infra_failures     attempts that ended for reasons outside the job (worker lost, lease
--                        expired, disk full on the worker); they do not spend max_attempts.
-- job.timeout_s          the sweep's timeout_s: the worker kills an attempt running longer
--                        (0 = no limit).
-- attempt.failure_class  '' unless the attempt failed: job_error | crash | infrastructure.
-- attempt_log            the tail (at most 1 MiB) of what the attempt's evaluator printed,
--                        appended while it runs and replaced by the final tail at completion.
ALTER TABLE job ADD COLUMN failure_class TEXT NOT NULL DEFAULT '';
ALTER TABLE job ADD COLUMN infra_failures INTEGER NOT NULL DEFAULT 0;
ALTER TABLE job ADD COLUMN timeout_s INTEGER NOT NULL DEFAULT 0;
ALTER TABLE attempt ADD COLUMN failure_class TEXT NOT NULL DEFAULT '';
CREATE TABLE attempt_log (
  token   INTEGER PRIMARY KEY REFERENCES attempt(token),
  job_id  INTEGER NOT NULL REFERENCES job(id),
  log     BLOB NOT NULL
);
CREATE INDEX attempt_log_by_job ON attempt_log(job_id);
