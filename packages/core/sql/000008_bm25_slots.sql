-- Concurrent writes no longer contend on the BM25 statistics.
--
-- Before: every insert, PATCH and DELETE of an entity updated the same
-- kdb_bm25_stats row and the kdb_bm25_terms rows of the words it shares with
-- other documents, each statement holding its locks until commit. An ingest
-- locked the stats row, then terms; a PATCH locked its old terms (postings
-- DELETE), then the stats row (doc_len), then its new terms; a record DELETE
-- locked the stats row, then terms. Sorting inside one statement cannot order
-- locks taken by several statements, so concurrent writers deadlocked (and
-- the losers answered 500), and the ones that did not waited on each other.
--
-- Now the statistics are split into slots. A transaction that changes them
-- first takes one slot for itself (a transaction-scoped advisory lock) and
-- writes only the rows of that slot: no two open transactions ever write the
-- same statistics row, so there is nothing to wait on and no lock order to
-- get wrong. A slot holder takes no other lock after its slot that a writer
-- could hold while waiting for a slot (ingest then writes only new rows; a
-- PATCH or DELETE has already locked its record), so waiting for a slot,
-- which happens only when more transactions write at once than there are
-- slots, cannot close a cycle either.
--
-- The statistics stay exact: a slot row holds the sum of the changes of the
-- transactions that used that slot (deletes may make one negative), and every
-- reader already sums over rows (entities are summed the same way).

ALTER TABLE kdb_bm25_stats ADD COLUMN slot smallint NOT NULL DEFAULT 0;
ALTER TABLE kdb_bm25_stats DROP CONSTRAINT kdb_bm25_stats_pkey;
ALTER TABLE kdb_bm25_stats ADD PRIMARY KEY (entity, slot);

ALTER TABLE kdb_bm25_terms ADD COLUMN slot smallint NOT NULL DEFAULT 0;
ALTER TABLE kdb_bm25_terms DROP CONSTRAINT kdb_bm25_terms_pkey;
ALTER TABLE kdb_bm25_terms ADD PRIMARY KEY (entity, term, slot);

-- The slot of the current transaction, taken on first use and kept until
-- commit or rollback (the setting and the lock end together, also when a
-- savepoint that took them is rolled back). 32 slots: more than the write
-- connections of a typical deployment, while a reader sums at most 32 rows
-- per term. A connection starts its search at its own slot, so a pooled
-- connection keeps writing the same rows.
CREATE FUNCTION kdb_bm25_slot() RETURNS smallint LANGUAGE plpgsql VOLATILE AS $$
DECLARE
  held text := current_setting('kdb.bm25_slot', true);
  slots CONSTANT int := 32;
  -- Arbitrary constant: the advisory lock class of the slots (two-key space).
  lock_class CONSTANT int := 727311007;
  first int := pg_backend_pid() % slots;
  s int;
BEGIN
  IF held IS NOT NULL AND held <> '' THEN RETURN held::smallint; END IF;
  FOR i IN 0 .. slots - 1 LOOP
    s := (first + i) % slots;
    IF pg_try_advisory_xact_lock(lock_class, s) THEN
      PERFORM set_config('kdb.bm25_slot', s::text, true);
      RETURN s;
    END IF;
  END LOOP;
  PERFORM pg_advisory_xact_lock(lock_class, first);
  PERFORM set_config('kdb.bm25_slot', first::text, true);
  RETURN first;
END $$;

CREATE OR REPLACE FUNCTION kdb_bm25_docs_ins() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  s smallint := kdb_bm25_slot();
BEGIN
  INSERT INTO kdb_bm25_stats AS st (entity, slot, n_docs, total_len)
  SELECT entity, s, count(*), sum(doc_len) FROM new_rows GROUP BY entity
  ON CONFLICT (entity, slot) DO UPDATE SET n_docs = st.n_docs + EXCLUDED.n_docs, total_len = st.total_len + EXCLUDED.total_len;
  RETURN NULL;
END $$;

CREATE OR REPLACE FUNCTION kdb_bm25_docs_del() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  s smallint := kdb_bm25_slot();
BEGIN
  INSERT INTO kdb_bm25_stats AS st (entity, slot, n_docs, total_len)
  SELECT entity, s, -count(*), -sum(doc_len) FROM old_rows GROUP BY entity
  ON CONFLICT (entity, slot) DO UPDATE SET n_docs = st.n_docs + EXCLUDED.n_docs, total_len = st.total_len + EXCLUDED.total_len;
  RETURN NULL;
END $$;

CREATE OR REPLACE FUNCTION kdb_bm25_terms_ins() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  s smallint := kdb_bm25_slot();
BEGIN
  INSERT INTO kdb_bm25_terms AS t (entity, term, slot, df)
  SELECT entity, term, s, count(*) FROM new_rows GROUP BY entity, term
  ON CONFLICT (entity, term, slot) DO UPDATE SET df = t.df + EXCLUDED.df;
  RETURN NULL;
END $$;

-- A slot row that drops to 0 is removed, so a word added and removed through
-- the same slot (the usual case: a connection starts at its own slot) leaves
-- no row behind. Rows of opposite sign in two slots stay; they sum to 0.
CREATE OR REPLACE FUNCTION kdb_bm25_terms_del() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  s smallint := kdb_bm25_slot();
BEGIN
  INSERT INTO kdb_bm25_terms AS t (entity, term, slot, df)
  SELECT entity, term, s, -count(*) FROM old_rows GROUP BY entity, term
  ON CONFLICT (entity, term, slot) DO UPDATE SET df = t.df + EXCLUDED.df;
  DELETE FROM kdb_bm25_terms t USING (SELECT DISTINCT entity, term FROM old_rows) o
   WHERE t.entity = o.entity AND t.term = o.term AND t.slot = s AND t.df = 0;
  RETURN NULL;
END $$;
