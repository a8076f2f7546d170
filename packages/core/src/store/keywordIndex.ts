import type pg from 'pg';
import { termFrequencies } from '../search/tokenize.js';
import { PostingsBuffer } from './PostingsBuffer.js';

export interface KeywordDoc {
  id: string;
  content: string;
}

/** Terms of a document, computed once: its length goes into kdb_search.doc_len, its postings into kdb_postings. */
export function analyze(doc: KeywordDoc): AnalyzedDoc {
  return { ...doc, ...termFrequencies(doc.content) };
}

export type AnalyzedDoc = KeywordDoc & { tf: Map<string, number>; length: number };

/**
 * Writes the postings of documents; with `replace`, first removes their old
 * postings and sets their new length (adjusting the entity's total length in
 * the same statement). Run it in the transaction that wrote the text: text
 * and keyword index commit together. Document counts and term document
 * frequencies follow through the table triggers. Every statistics write goes
 * to the transaction's own slot (`kdb_bm25_slot()`, sql/000008): concurrent
 * writers never wait on each other's statistics rows, so they cannot deadlock
 * on them whatever order their statements come in.
 */
export async function indexKeywords(
  client: pg.ClientBase,
  entity: string,
  docs: readonly AnalyzedDoc[],
  opts: { replace: boolean },
): Promise<void> {
  if (docs.length === 0) return;
  const ids = docs.map((d) => d.id);
  if (opts.replace) {
    await client.query('DELETE FROM kdb_postings WHERE record_id = ANY($1::uuid[])', [ids]);
    await client.query(
      `WITH changed AS (
         UPDATE kdb_search s SET doc_len = t.len
           FROM unnest($1::uuid[], $2::int[]) AS t(id, len), kdb_search old
          WHERE s.record_id = t.id AND old.record_id = t.id AND s.doc_len IS DISTINCT FROM t.len
          RETURNING s.entity, t.len - old.doc_len AS delta)
       INSERT INTO kdb_bm25_stats AS st (entity, slot, n_docs, total_len)
       SELECT entity, kdb_bm25_slot(), 0, sum(delta) FROM changed GROUP BY entity
       ON CONFLICT (entity, slot) DO UPDATE SET total_len = st.total_len + EXCLUDED.total_len`,
      [ids, docs.map((d) => d.length)],
    );
  }
  const postings = new PostingsBuffer(entity);
  postings.add(docs);
  await postings.write(client);
}
