-- Finished reindex runs, so history survives a Redis restart. Live progress
-- stays in Redis; a row is written when a run ends.
CREATE TABLE kdb_reindex_runs (
  id           uuid PRIMARY KEY,
  entity       text,
  force        boolean NOT NULL,
  recompute    boolean NOT NULL DEFAULT false,
  state        text NOT NULL CHECK (state IN ('completed', 'cancelled', 'failed')),
  total        bigint NOT NULL,
  processed    bigint NOT NULL,
  embedded     bigint NOT NULL,
  cached       bigint NOT NULL,
  failed       bigint NOT NULL,
  error        text,
  created_at   timestamptz NOT NULL,
  started_at   timestamptz,
  finished_at  timestamptz NOT NULL
);
CREATE INDEX kdb_reindex_runs_created_idx ON kdb_reindex_runs (created_at DESC);

-- Keyset pagination of one entity's rows by the reindex planner.
CREATE INDEX kdb_search_entity_record_idx ON kdb_search (entity, record_id);
