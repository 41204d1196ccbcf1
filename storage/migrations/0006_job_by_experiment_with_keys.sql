-- Version 6: the experiment index also holds each job's environment key and backend (after its
-- id, so that it still yields an experiment's jobs of one state in id order), so that a Pareto
-- front reads them from the index as it did state: a pair query that visited every job row to
-- group points by environment was 20-40% slower at 100,000 jobs.
DROP INDEX job_by_experiment;
CREATE INDEX job_by_experiment ON job(experiment_id, state, id, environment_key, backend);
