-- Every reindex run gets its row when it is created, not only when it ends:
-- if Redis loses the run's live state (FLUSHALL, a restart without
-- persistence), the run is still known and is ended as failed, "lost in
-- Redis", instead of vanishing. finished_at is empty while the run is live.
ALTER TABLE kdb_reindex_runs DROP CONSTRAINT kdb_reindex_runs_state_check;
ALTER TABLE kdb_reindex_runs ADD CONSTRAINT kdb_reindex_runs_state_check
  CHECK (state IN ('queued', 'planning', 'running', 'completed', 'cancelled', 'failed'));
ALTER TABLE kdb_reindex_runs ALTER COLUMN finished_at DROP NOT NULL;
ALTER TABLE kdb_reindex_runs ADD COLUMN updated_at timestamptz;
UPDATE kdb_reindex_runs SET updated_at = finished_at;
ALTER TABLE kdb_reindex_runs ALTER COLUMN updated_at SET NOT NULL;
ALTER TABLE kdb_reindex_runs ALTER COLUMN updated_at SET DEFAULT now();
-- Live runs are looked up to tell a run lost in Redis.
CREATE INDEX kdb_reindex_runs_live_idx ON kdb_reindex_runs (created_at) WHERE finished_at IS NULL;
