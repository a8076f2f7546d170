import type pg from 'pg';
import { termFrequencies } from '../search/tokenize.js';
import { copyText } from './copyText.js';

export interface KeywordDoc {
  id: string;
  content: string;
}

/**
 * Writes the postings and document lengths of documents whose search rows
 * exist (new or with changed text), replacing any older postings. Run it in
 * the transaction that wrote the text: text and keyword index commit
 * together. Statistics follow through the table triggers.
 */
export async function indexKeywords(client: pg.ClientBase, entity: string, docs: readonly KeywordDoc[], opts: { replace: boolean }): Promise<void> {
  if (docs.length === 0) return;
  const ids = docs.map((d) => d.id);
  if (opts.replace) await client.query('DELETE FROM kdb_postings WHERE record_id = ANY($1::uuid[])', [ids]);
  const rows: (string | number)[][] = [];
  const lengths: number[] = [];
  for (const doc of docs) {
    const { tf, length } = termFrequencies(doc.content);
    lengths.push(length);
    for (const [term, n] of tf) rows.push([entity, term, doc.id, n, length]);
  }
  await client.query(
    `UPDATE kdb_search s SET doc_len = t.len FROM unnest($1::uuid[], $2::int[]) AS t(id, len)
      WHERE s.record_id = t.id AND s.doc_len IS DISTINCT FROM t.len`,
    [ids, lengths],
  );
  await copyText(client, 'kdb_postings', ['entity', 'term', 'record_id', 'tf', 'doc_len'], rows);
}
