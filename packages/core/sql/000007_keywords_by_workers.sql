-- Keyword postings are written by the embed workers, no longer in the API's
-- ingest transaction (store/indexPendingKeywords.ts). The postings COPY was
-- two thirds of that transaction (two btree indexes, the df trigger); in the
-- workers it runs beside the embedding of the same batch, on two workers at
-- once. A record is then found by keyword search from the moment its worker
-- batch commits its postings, which is just before it turns `ready` (the
-- moment vector search finds it).
--
-- `keywords_pending`: the row's current text is not indexed yet (set by the
-- ingest, cleared with the postings write). `doc_len` is NULL until the
-- row's first indexing. Document statistics (n_docs, total_len) count
-- indexed rows only; they follow the postings writes (store/keywordIndex.ts)
-- and deletes (the trigger below).
--
-- Both changes are catalog-only on an existing table (a constant default, a
-- dropped NOT NULL): no rewrite, whatever its size. Existing rows keep their
-- postings and count as indexed.

ALTER TABLE kdb_search ADD COLUMN keywords_pending boolean NOT NULL DEFAULT false;
ALTER TABLE kdb_search ALTER COLUMN doc_len DROP NOT NULL;
ALTER TABLE kdb_search ALTER COLUMN doc_len DROP DEFAULT;

-- Rows enter the statistics when their postings are written, not at insert.
DROP TRIGGER kdb_bm25_docs_ins ON kdb_search;
DROP FUNCTION kdb_bm25_docs_ins();

CREATE OR REPLACE FUNCTION kdb_bm25_docs_del() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  UPDATE kdb_bm25_stats st SET n_docs = st.n_docs - d.n, total_len = st.total_len - d.len
    FROM (SELECT entity, count(doc_len) AS n, coalesce(sum(doc_len), 0) AS len FROM old_rows
           GROUP BY entity ORDER BY entity) d
   WHERE st.entity = d.entity AND d.n > 0;
  RETURN NULL;
END $$;
