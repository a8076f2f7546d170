import type pg from 'pg';
import { termFrequencies } from '../search/tokenize.js';
import { copyText } from './copyText.js';

/** A search row's current text, to be (re)indexed. */
export interface KeywordDoc {
  id: string;
  entity: string;
  content: string;
  /** The text's content hash: stored as `keyword_hash` with the postings. */
  hash: string;
}

const SET_LENGTHS_AND_STATS = `
  WITH t AS (SELECT * FROM unnest($1::uuid[], $2::int[], $3::text[]) AS t(id, len, hash)),
  changed AS (
    UPDATE kdb_search s SET doc_len = t.len, keyword_hash = t.hash
      FROM t, kdb_search old
     WHERE s.record_id = t.id AND old.record_id = t.id
     RETURNING s.entity,
               (old.keyword_hash IS NULL)::int AS added,
               t.len - CASE WHEN old.keyword_hash IS NULL THEN 0 ELSE old.doc_len END AS delta)
  INSERT INTO kdb_bm25_stats AS st (entity, n_docs, total_len)
  SELECT entity, sum(added), sum(delta) FROM changed GROUP BY entity ORDER BY entity
  ON CONFLICT (entity) DO UPDATE SET n_docs = st.n_docs + EXCLUDED.n_docs, total_len = st.total_len + EXCLUDED.total_len`;

/**
 * Replaces the postings of documents with those of their current text, in
 * three statements: delete the postings of the text indexed before (if any),
 * COPY the new ones, then set each row's length and `keyword_hash` and add
 * the differences to its entity's document count and total length. Term
 * document frequencies follow the postings through the table triggers, which
 * lock the terms in key order; the entity row is updated last, so concurrent
 * writers hold it only for the end of their transaction.
 *
 * The caller holds the rows locked in its transaction (or wrote their text in
 * it): postings, lengths and statistics commit together with `keyword_hash`,
 * or not at all.
 */
export async function indexKeywords(client: pg.ClientBase, docs: readonly KeywordDoc[]): Promise<void> {
  if (docs.length === 0) return;
  const ids = docs.map((d) => d.id);
  await client.query(
    `DELETE FROM kdb_postings p USING kdb_search s
      WHERE s.record_id = ANY($1::uuid[]) AND s.keyword_hash IS NOT NULL AND p.record_id = s.record_id`,
    [ids],
  );
  const rows: (string | number)[][] = [];
  const lengths: number[] = [];
  for (const doc of docs) {
    const { tf, length } = termFrequencies(doc.content);
    for (const [term, n] of tf) rows.push([doc.entity, term, doc.id, n, length]);
    lengths.push(length);
  }
  await copyText(client, 'kdb_postings', ['entity', 'term', 'record_id', 'tf', 'doc_len'], rows);
  await client.query(SET_LENGTHS_AND_STATS, [ids, lengths, docs.map((d) => d.hash)]);
}
