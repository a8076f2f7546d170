-- Keyword (BM25) index: one posting per (record, term) with the term
-- frequency and the document length, so the keyword query reads one covering
-- index and never the rows. Statistics (documents, total length per entity;
-- document frequency per term) are kept exact by statement-level triggers:
-- they follow every insert and delete, whatever path made it.

ALTER TABLE kdb_search ADD COLUMN doc_len int NOT NULL DEFAULT 0;

CREATE TABLE kdb_postings (
  entity     text NOT NULL,
  term       text NOT NULL,
  record_id  uuid NOT NULL REFERENCES kdb_search(record_id) ON DELETE CASCADE,
  tf         int NOT NULL,
  doc_len    int NOT NULL,
  PRIMARY KEY (entity, term, record_id) INCLUDE (tf, doc_len)
);
CREATE INDEX kdb_postings_record_idx ON kdb_postings (record_id);

CREATE TABLE kdb_bm25_stats (
  entity     text PRIMARY KEY,
  n_docs     bigint NOT NULL DEFAULT 0,
  total_len  bigint NOT NULL DEFAULT 0
);

CREATE TABLE kdb_bm25_terms (
  entity  text NOT NULL,
  term    text NOT NULL,
  df      bigint NOT NULL,
  PRIMARY KEY (entity, term)
);

-- Rows are aggregated per statement and applied in key order, so concurrent
-- writers lock stats rows in the same order (no deadlock).
CREATE FUNCTION kdb_bm25_docs_ins() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO kdb_bm25_stats AS st (entity, n_docs, total_len)
  SELECT entity, count(*), sum(doc_len) FROM new_rows GROUP BY entity ORDER BY entity
  ON CONFLICT (entity) DO UPDATE SET n_docs = st.n_docs + EXCLUDED.n_docs, total_len = st.total_len + EXCLUDED.total_len;
  RETURN NULL;
END $$;

CREATE FUNCTION kdb_bm25_docs_del() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  UPDATE kdb_bm25_stats st SET n_docs = st.n_docs - d.n, total_len = st.total_len - d.len
    FROM (SELECT entity, count(*) AS n, sum(doc_len) AS len FROM old_rows GROUP BY entity ORDER BY entity) d
   WHERE st.entity = d.entity;
  RETURN NULL;
END $$;

CREATE TRIGGER kdb_bm25_docs_ins AFTER INSERT ON kdb_search
  REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION kdb_bm25_docs_ins();
CREATE TRIGGER kdb_bm25_docs_del AFTER DELETE ON kdb_search
  REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION kdb_bm25_docs_del();
-- A change of text changes doc_len; store/keywordIndex.ts adjusts total_len in
-- the same statement (a trigger here would run on every embedding write too:
-- transition tables cannot be limited to a column).

CREATE FUNCTION kdb_bm25_terms_ins() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO kdb_bm25_terms AS t (entity, term, df)
  SELECT entity, term, count(*) FROM new_rows GROUP BY entity, term ORDER BY entity, term
  ON CONFLICT (entity, term) DO UPDATE SET df = t.df + EXCLUDED.df;
  RETURN NULL;
END $$;

CREATE FUNCTION kdb_bm25_terms_del() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  UPDATE kdb_bm25_terms t SET df = t.df - d.n
    FROM (SELECT entity, term, count(*) AS n FROM old_rows GROUP BY entity, term ORDER BY entity, term) d
   WHERE t.entity = d.entity AND t.term = d.term;
  RETURN NULL;
END $$;

CREATE TRIGGER kdb_bm25_terms_ins AFTER INSERT ON kdb_postings
  REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION kdb_bm25_terms_ins();
CREATE TRIGGER kdb_bm25_terms_del AFTER DELETE ON kdb_postings
  REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION kdb_bm25_terms_del();

-- Equality filters on record fields (`where`).
CREATE INDEX kdb_records_data_idx ON kdb_records USING gin (data jsonb_path_ops);
