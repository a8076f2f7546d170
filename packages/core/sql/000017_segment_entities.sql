-- What a search of some entities needs of each sealed segment: how many of
-- its rows are theirs. A segment holding none of them is skipped (an HNSW scan
-- filtered to an entity its graph lacks walks on until pgvector's scan
-- limit); one holding few of them is read exactly through the new
-- (entity, vector_seq) index instead of its graph (src/search/segmentScan.ts).
-- Written when a segment's index is built, from the rows of its range. A
-- sealed range only loses rows (a re-embedded row takes a new seq, a deleted
-- one goes), so the counts stay upper bounds.
-- NULL: not known (a segment a process older than this migration recorded):
-- read through its graph by every search.
--
-- Locks: the indexes are built first (each holds off that table's vector
-- writes while it builds, not searches); the counts are computed into a
-- temporary table before the catalog is altered, so the catalog's exclusive
-- lock, which holds off every search's catalog read, lasts only the ALTER
-- and one UPDATE. A segment build of an older worker still running makes the
-- index build wait for it.
CREATE OR REPLACE FUNCTION kdb_create_vector_table(space_id int, dims int) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
  t text := format('kdb_vectors_%s', space_id);
BEGIN
  IF dims < 1 OR dims > 16000 THEN RAISE EXCEPTION 'dimensions must be 1 to 16000, got %', dims; END IF;
  EXECUTE format('CREATE TABLE %I (
      record_id      uuid NOT NULL,
      chunk          int NOT NULL DEFAULT 0,
      entity         text NOT NULL,
      embedded_hash  text NOT NULL,
      embedding      vector(%s),
      vector_seq     bigint,
      updated_at     timestamptz NOT NULL DEFAULT now(),
      PRIMARY KEY (record_id, chunk))', t, dims);
  -- Vectors of 384 float4 (~1.5 KB) would otherwise be TOASTed once rows grow.
  EXECUTE format('ALTER TABLE %I ALTER COLUMN embedding SET STORAGE PLAIN', t);
  EXECUTE format('CREATE INDEX %I ON %I (vector_seq)', t || '_seq_idx', t);
  EXECUTE format('CREATE INDEX %I ON %I (entity, vector_seq)', t || '_entity_seq_idx', t);
END $$;

CREATE TEMPORARY TABLE kdb_segment_entity_rows (index_name text PRIMARY KEY, entity_rows jsonb NOT NULL) ON COMMIT DROP;

DO $$
DECLARE
  sp record;
BEGIN
  FOR sp IN SELECT id FROM kdb_embedding_spaces LOOP
    EXECUTE format('CREATE INDEX %I ON %I (entity, vector_seq)', format('kdb_vectors_%s_entity_seq_idx', sp.id), format('kdb_vectors_%s', sp.id));
    EXECUTE format(
      'INSERT INTO kdb_segment_entity_rows (index_name, entity_rows)
       SELECT s.index_name, (SELECT coalesce(jsonb_object_agg(e.entity, e.n), ''{}'') FROM (SELECT v.entity, count(*) AS n FROM %I v WHERE v.vector_seq BETWEEN s.lo AND s.hi GROUP BY v.entity) e)
         FROM kdb_vector_segments s WHERE s.space_id = $1',
      format('kdb_vectors_%s', sp.id))
    USING sp.id;
  END LOOP;
END $$;

ALTER TABLE kdb_vector_segments ADD COLUMN entity_rows jsonb;
UPDATE kdb_vector_segments s SET entity_rows = t.entity_rows FROM kdb_segment_entity_rows t WHERE t.index_name = s.index_name;
