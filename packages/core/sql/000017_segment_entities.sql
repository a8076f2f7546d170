-- The entities whose vectors a sealed segment holds, so that a search of some
-- entities skips the segments holding none of theirs: an HNSW scan filtered
-- to an entity the graph lacks walks on (iteratively) until it gives up, which
-- cost a search of a small entity beside a large one hundreds of ms.
-- Written when a segment's index is built, from the rows of its range. A
-- sealed range only loses rows (a re-embedded row takes a new seq, a deleted
-- one goes), so the list stays a superset of what the range holds.
-- NULL: not known (a segment a process older than this migration recorded):
-- scanned by every search.
ALTER TABLE kdb_vector_segments ADD COLUMN entities text[];

DO $$
DECLARE
  sp record;
BEGIN
  FOR sp IN SELECT DISTINCT space_id FROM kdb_vector_segments LOOP
    EXECUTE format(
      'UPDATE kdb_vector_segments s SET entities = ARRAY(SELECT DISTINCT v.entity FROM %I v WHERE v.vector_seq BETWEEN s.lo AND s.hi ORDER BY 1) WHERE s.space_id = $1',
      format('kdb_vectors_%s', sp.space_id))
    USING sp.space_id;
  END LOOP;
END $$;
