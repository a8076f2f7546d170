-- Keyword postings are written by the embed workers, no longer in the API's
-- ingest transaction (store/indexPendingKeywords.ts). The postings COPY was
-- two thirds of that transaction (two btree indexes, the df trigger); in the
-- workers it runs on two connections at once and while the batch's texts are
-- embedded. A record is then found by keyword search from the moment its
-- worker batch commits its postings, which is just before it turns `ready`
-- (the same moment vector search finds it).
--
-- `keyword_hash` is the content hash whose postings kdb_postings holds; NULL
-- until the first indexing. A row needs (re)indexing while it differs from
-- `content_hash`. Document statistics (n_docs, total_len) count indexed rows
-- only and follow the postings writes (store/keywordIndex.ts) and deletes.

ALTER TABLE kdb_search ADD COLUMN keyword_hash text;
UPDATE kdb_search SET keyword_hash = content_hash;

-- Rows enter the statistics when their postings are written, not at insert.
DROP TRIGGER kdb_bm25_docs_ins ON kdb_search;
DROP FUNCTION kdb_bm25_docs_ins();

CREATE OR REPLACE FUNCTION kdb_bm25_docs_del() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  UPDATE kdb_bm25_stats st SET n_docs = st.n_docs - d.n, total_len = st.total_len - d.len
    FROM (SELECT entity, count(*) AS n, sum(doc_len) AS len FROM old_rows
           WHERE keyword_hash IS NOT NULL GROUP BY entity ORDER BY entity) d
   WHERE st.entity = d.entity;
  RETURN NULL;
END $$;
