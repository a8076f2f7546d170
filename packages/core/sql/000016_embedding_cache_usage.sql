-- Hit counts and last use of the embedding-cache entries, one row per entry,
-- apart from the vectors. Every cache hit writes these two values; on the
-- entry's own row each write made a new version of the whole row, its inline
-- vector included, and the index on last_used_at ruled out HOT updates
-- (docs/decisions/cache-usage-table.md). A hit now writes this narrow row and
-- leaves the entry's row (and its vector) as it was.
--
-- The table lock is taken first, so that no entry is added between the copy
-- and the dropping of the columns: statements on the cache (a worker's
-- lookup, an ingest's probe, a search's query vector) wait for this
-- transaction, which copies one narrow row per entry. A process started
-- before this migration and still running afterwards keeps working for
-- lookups and inserts (the trigger below gives its new entries their usage
-- rows), but its hit counting names the dropped columns and fails: a worker's
-- embed job then fails and is retried by the queue, an ingest loses those hit
-- counts (best effort); restart such processes with the migrated code.
LOCK TABLE kdb_embedding_cache IN ACCESS EXCLUSIVE MODE;

CREATE TABLE kdb_embedding_cache_usage (
  model_key     text NOT NULL,
  text_hash     text NOT NULL,
  hits          bigint NOT NULL DEFAULT 0,
  last_used_at  timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (model_key, text_hash),
  FOREIGN KEY (model_key, text_hash) REFERENCES kdb_embedding_cache (model_key, text_hash) ON DELETE CASCADE
);

INSERT INTO kdb_embedding_cache_usage (model_key, text_hash, hits, last_used_at)
SELECT model_key, text_hash, hits, last_used_at FROM kdb_embedding_cache ORDER BY model_key, text_hash;

-- Eviction by age and by size reads entries in order of last use.
CREATE INDEX kdb_embedding_cache_usage_last_used_idx ON kdb_embedding_cache_usage (last_used_at);

DROP INDEX kdb_embedding_cache_last_used_idx;
ALTER TABLE kdb_embedding_cache DROP COLUMN hits, DROP COLUMN last_used_at;

-- Every new entry gets its usage row in the statement that adds it, whoever
-- adds it (insertCacheEntries, an older process, a hand-written INSERT): the
-- usage table holds exactly one row per entry, so hit counting and eviction
-- read it alone. The transition table holds only the rows really inserted
-- (not those an ON CONFLICT DO NOTHING skipped), in the order they went in.
CREATE FUNCTION kdb_embedding_cache_usage_add() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO kdb_embedding_cache_usage (model_key, text_hash) SELECT model_key, text_hash FROM added;
  RETURN NULL;
END $$;
CREATE TRIGGER kdb_embedding_cache_usage_add AFTER INSERT ON kdb_embedding_cache
  REFERENCING NEW TABLE AS added FOR EACH STATEMENT EXECUTE FUNCTION kdb_embedding_cache_usage_add();
