-- Version 7: job counts per (experiment, kind, state), kept in the transaction that inserts a
-- job or changes its state, so that experiment lists, experiment pages and the summary read a
-- few rows instead of counting a million-job experiment at every poll. No job row is ever
-- deleted, so inserts and state changes are all there is to count. State changes are counted
-- by the trigger below, whichever statement makes them; inserts by InsertJobs
-- (storage/job_rows.cc), the one writer of job rows, with one statement per batch (a trigger
-- per inserted row doubled the time to accept a million-job sweep).
CREATE TABLE job_count (
  experiment_id  INTEGER NOT NULL,
  kind           TEXT NOT NULL,
  state          INTEGER NOT NULL,
  n              INTEGER NOT NULL,
  PRIMARY KEY (experiment_id, kind, state)
) WITHOUT ROWID;
INSERT INTO job_count(experiment_id, kind, state, n)
  SELECT experiment_id, kind, state, COUNT(*) FROM job GROUP BY experiment_id, kind, state;
CREATE TRIGGER job_count_state AFTER UPDATE OF state ON job WHEN OLD.state != NEW.state BEGIN
  UPDATE job_count SET n = n - 1
    WHERE experiment_id = OLD.experiment_id AND kind = OLD.kind AND state = OLD.state;
  INSERT INTO job_count(experiment_id, kind, state, n) VALUES (NEW.experiment_id, NEW.kind, NEW.state, 1)
    ON CONFLICT(experiment_id, kind, state) DO UPDATE SET n = n + 1;
END;

-- The metric names each experiment's jobs have stored, in the order first stored: read whole at
-- start-up (the dashboard's pickers and every filter use them), where deriving them from
-- `result` meant a scan of every result row (6 s for ten million). A completion adds the names
-- its experiment did not have yet, in its transaction.
CREATE TABLE experiment_metric (
  id             INTEGER PRIMARY KEY,
  experiment_id  INTEGER NOT NULL,
  name           TEXT NOT NULL,
  UNIQUE (experiment_id, name)
);
INSERT INTO experiment_metric(experiment_id, name)
  SELECT j.experiment_id, r.name FROM result r JOIN job j ON j.id = r.job_id
  GROUP BY j.experiment_id, r.name ORDER BY j.experiment_id, MIN(r.job_id);
