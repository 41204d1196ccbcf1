-- Version 2: the dashboard's job table pages one experiment's jobs newest first
-- (WHERE experiment_id = ? AND id < ? ORDER BY id DESC); without this index SQLite sorted all
-- of an experiment's jobs for every page.
CREATE INDEX job_by_experiment_id ON job(experiment_id, id);
