-- Vector segments (see src/segments/SegmentManager.ts). Inserting into an
-- existing HNSW graph costs ~2.5 ms per row here; building a graph over rows
-- already in the table costs a fraction of that. So vectors are no longer
-- inserted into one table-wide HNSW index:
--  * every vector write takes the next `vector_seq` (from a sequence);
--  * rows above the newest sealed range form the hot segment, found by an
--    exact scan (btree on vector_seq, then distance + sort);
--  * a sealed segment is a seq range [lo, hi] with its own partial HNSW index
--    `WHERE vector_seq BETWEEN lo AND hi`, built in bulk (CREATE INDEX
--    CONCURRENTLY) by one worker, and merged with its neighbours later.
-- A row's vector_seq never changes while its vector stays: a re-embedded row
-- takes a new seq (hot again) and its old version leaves the sealed range.

CREATE SEQUENCE kdb_vector_seq AS bigint;
ALTER TABLE kdb_search ADD COLUMN vector_seq bigint;
CREATE INDEX kdb_search_vector_seq_idx ON kdb_search (vector_seq);

CREATE TABLE kdb_vector_segments (
  index_name  text PRIMARY KEY,
  lo          bigint NOT NULL,
  hi          bigint NOT NULL,
  rows        bigint NOT NULL,
  kind        text NOT NULL CHECK (kind IN ('seal', 'merge', 'migration')),
  build_ms    bigint NOT NULL DEFAULT 0,
  created_at  timestamptz NOT NULL DEFAULT now(),
  CHECK (lo <= hi)
);

DROP INDEX kdb_search_embedding_hnsw;

-- Vectors written before this migration become one sealed segment, built here.
DO $$
DECLARE
  n bigint;
BEGIN
  UPDATE kdb_search SET vector_seq = nextval('kdb_vector_seq') WHERE embedding IS NOT NULL;
  GET DIAGNOSTICS n = ROW_COUNT;
  IF n > 0 THEN
    EXECUTE format('CREATE INDEX kdb_vseg_1_%s ON kdb_search USING hnsw (embedding vector_cosine_ops) WHERE vector_seq BETWEEN 1 AND %s', n, n);
    INSERT INTO kdb_vector_segments (index_name, lo, hi, rows, kind) VALUES (format('kdb_vseg_1_%s', n), 1, n, n, 'migration');
  END IF;
END $$;
