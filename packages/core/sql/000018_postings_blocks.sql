-- Keyword postings of bulk ingests as blocks (docs/decisions/postings-blocks.md).
--
-- A document whose postings are in blocks has a document number (doc_no,
-- never reused) and names the postings key they were written under
-- (doc_key) and its distinct terms (doc_terms, space-separated: terms never
-- hold white space, content/tokenize.ts). Its postings are in
-- kdb_postings_blocks: one row per term per ingest batch and run of up to
-- 128 documents, the body packing each posting as three big-endian int4
-- (doc_no - first_doc, tf, doc_len), in doc_no order. The row carries the
-- block's (tf, doc_len) frontier: for each tf of the block not outweighed,
-- the least length at which it occurs, as pairs of big-endian int4, tf descending. BM25 rises
-- with tf and falls with length, so the best of these is the block's best
-- weight at whatever average length (search/blockTopK.ts). Every other document keeps one row per
-- posting in kdb_postings: a document is in exactly one of the two.
--
-- A block posting counts while its document still has that number under
-- that key. A text change clears doc_no (store/keywordIndex.ts, which then
-- writes the new postings as rows), a delete removes the row: either way the
-- block keeps a dead posting, which search skips when it checks its
-- candidates, and whose block maxima stay upper bounds. Document frequencies
-- stay exact: a block adds its n postings when written (trigger below), a
-- document leaving the blocks takes its doc_terms away (the delete trigger
-- below; keywordIndex.ts for a text change), under its key while that is
-- still the entity's key (after an analyzer switch the old key's statistics
-- are dropped with it).
CREATE SEQUENCE kdb_doc_seq CACHE 1024;

ALTER TABLE kdb_search
  ADD COLUMN doc_no bigint,
  ADD COLUMN doc_key text,
  ADD COLUMN doc_terms text;
CREATE UNIQUE INDEX kdb_search_doc_no_idx ON kdb_search (doc_no) INCLUDE (doc_key) WHERE doc_no IS NOT NULL;

CREATE TABLE kdb_postings_blocks (
  entity     text NOT NULL,
  term       text NOT NULL,
  first_doc  bigint NOT NULL,
  last_doc   bigint NOT NULL,
  n          int NOT NULL,
  frontier   bytea NOT NULL,
  -- The least record id of the block's documents: of ranges whose bound only
  -- ties the k-th score, those whose ids all sort after the k-th's are skipped.
  min_id     uuid NOT NULL,
  body       bytea NOT NULL,
  PRIMARY KEY (entity, term, first_doc) INCLUDE (last_doc, n, frontier, min_id)
);
-- Bodies are read a block at a time by key and are barely compressible (int4 offsets).
ALTER TABLE kdb_postings_blocks ALTER COLUMN body SET STORAGE EXTERNAL;

CREATE FUNCTION kdb_postings_blocks_ins() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  s smallint := kdb_bm25_slot();
BEGIN
  INSERT INTO kdb_bm25_terms AS t (entity, term, slot, df)
  SELECT entity, term, s, sum(n) FROM new_rows GROUP BY entity, term
  ON CONFLICT (entity, term, slot) DO UPDATE SET df = t.df + EXCLUDED.df;
  RETURN NULL;
END $$;

CREATE TRIGGER kdb_postings_blocks_ins AFTER INSERT ON kdb_postings_blocks
  REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION kdb_postings_blocks_ins();

-- Takes the terms of documents leaving the blocks out of the document
-- frequencies (a function of its own: keywordIndex.ts calls it for a text
-- change, the trigger below for a delete).
CREATE FUNCTION kdb_blocks_forget(docs jsonb) RETURNS int LANGUAGE plpgsql AS $$
DECLARE
  s smallint;
  keys text[];
  terms text[];
  counts bigint[];
BEGIN
  IF docs IS NULL OR jsonb_array_length(docs) = 0 THEN RETURN 0; END IF;
  SELECT array_agg(g.doc_key), array_agg(g.term), array_agg(g.n) INTO keys, terms, counts
    FROM (SELECT d.doc_key, x.term, count(*) AS n
            FROM jsonb_to_recordset(docs) AS d(entity text, doc_key text, doc_terms text)
            JOIN kdb_entities e ON e.name = d.entity AND coalesce(e.postings_key, e.name) = d.doc_key
           CROSS JOIN LATERAL unnest(string_to_array(d.doc_terms, ' ')) AS x(term)
           WHERE x.term <> ''
           GROUP BY d.doc_key, x.term) g;
  IF keys IS NULL THEN RETURN jsonb_array_length(docs); END IF;
  s := kdb_bm25_slot();
  INSERT INTO kdb_bm25_terms AS t (entity, term, slot, df)
  SELECT k, tm, s, -c FROM unnest(keys, terms, counts) AS u(k, tm, c)
  ON CONFLICT (entity, term, slot) DO UPDATE SET df = t.df + EXCLUDED.df;
  -- As kdb_bm25_terms_del: a slot row at 0 goes.
  DELETE FROM kdb_bm25_terms t USING unnest(keys, terms) AS u(k, tm)
   WHERE t.entity = u.k AND t.term = u.tm AND t.slot = s AND t.df = 0;
  RETURN jsonb_array_length(docs);
END $$;

CREATE FUNCTION kdb_blocks_follow_rows() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM kdb_blocks_forget((SELECT jsonb_agg(jsonb_build_object('entity', entity, 'doc_key', doc_key, 'doc_terms', doc_terms))
                               FROM old_rows WHERE doc_no IS NOT NULL));
  RETURN NULL;
END $$;

CREATE TRIGGER kdb_blocks_follow_rows AFTER DELETE ON kdb_search
  REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION kdb_blocks_follow_rows();

-- The live postings under `key` in both layouts, decoded (of `terms`, or of
-- every term when null): for checks, benchmarks' raw full sums and
-- operators; search reads the blocks itself (search/blockTopK.ts).
CREATE FUNCTION kdb_postings_of(key text, terms text[] DEFAULT NULL)
  RETURNS TABLE (term text, record_id uuid, tf int, doc_len int) LANGUAGE sql STABLE AS $$
  SELECT p.term, p.record_id, p.tf, p.doc_len FROM kdb_postings p
   WHERE p.entity = key AND (terms IS NULL OR p.term = ANY(terms))
  UNION ALL
  SELECT b.term, s.record_id, x.tf, x.doc_len
    FROM kdb_postings_blocks b
   CROSS JOIN LATERAL (
     SELECT b.first_doc + (get_byte(b.body, o) << 24 | get_byte(b.body, o + 1) << 16 | get_byte(b.body, o + 2) << 8 | get_byte(b.body, o + 3)) AS doc_no,
            (get_byte(b.body, o + 4) << 24 | get_byte(b.body, o + 5) << 16 | get_byte(b.body, o + 6) << 8 | get_byte(b.body, o + 7)) AS tf,
            (get_byte(b.body, o + 8) << 24 | get_byte(b.body, o + 9) << 16 | get_byte(b.body, o + 10) << 8 | get_byte(b.body, o + 11)) AS doc_len
       FROM generate_series(0, b.n - 1) AS i, LATERAL (SELECT i * 12 AS o) off) x
    JOIN kdb_search s ON s.doc_no = x.doc_no AND s.doc_key = b.entity
   WHERE b.entity = key AND (terms IS NULL OR b.term = ANY(terms))
$$;
