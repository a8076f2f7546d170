import type pg from 'pg';
import { termFrequencies } from '../content/tokenize.js';
import { PostingsBuffer } from './PostingsBuffer.js';

/**
 * The keyword index: every write of postings and of document lengths goes
 * through this module (ingest through KeywordIndexWriter, PATCH and
 * recompute through indexKeywords with `replace`). Document counts and term
 * document frequencies follow through the table triggers. Every statistics
 * write goes to the transaction's own slot (`kdb_bm25_slot()`, sql/000008):
 * concurrent writers never wait on each other's statistics rows, so they
 * cannot deadlock on them whatever order their statements come in.
 */

export interface KeywordDoc {
  id: string;
  content: string;
}

export type AnalyzedDoc = KeywordDoc & { tf: Map<string, number>; length: number };

/** Terms of a document, computed once: its length goes into kdb_search.doc_len, its postings into kdb_postings. */
export function analyze(doc: KeywordDoc): AnalyzedDoc {
  return { ...doc, ...termFrequencies(doc.content) };
}

/** Default of KeywordIndexWriter's `batchDocs`. */
export const POSTINGS_BATCH_DOCS = 50_000;

export interface KeywordIndexWriterOptions {
  /**
   * Documents whose postings are written by one COPY. Default
   * POSTINGS_BATCH_DOCS (50,000): the statement's trigger then updates each
   * term's document frequency once per batch instead of once per chunk,
   * which a long transaction makes dearer each time
   * (docs/decisions/postings-batches.md). Bounds the analyzed text held in
   * memory.
   */
  batchDocs?: number;
}

/**
 * Postings of new documents (an ingest), buffered across chunks and written
 * by batches of `batchDocs`, grouped by term. Use it inside the transaction
 * that writes the documents, and `flush` before that transaction commits:
 * text and keyword index commit together.
 */
export class KeywordIndexWriter {
  private readonly buffer: PostingsBuffer;
  private readonly batchDocs: number;

  constructor(entity: string, opts: KeywordIndexWriterOptions = {}) {
    this.buffer = new PostingsBuffer(entity);
    this.batchDocs = opts.batchDocs ?? POSTINGS_BATCH_DOCS;
  }

  /** Buffers the postings of `docs`; writes them with `client` once a batch is full. */
  async add(client: pg.ClientBase, docs: readonly AnalyzedDoc[]): Promise<void> {
    this.buffer.add(docs);
    if (this.buffer.documents >= this.batchDocs) await this.buffer.write(client);
  }

  /** Writes whatever is buffered. */
  async flush(client: pg.ClientBase): Promise<void> {
    await this.buffer.write(client);
  }
}

/**
 * Writes the postings of documents in one statement; with `replace`, first
 * removes their old postings and sets their new length (adjusting the
 * entity's total length in the same statement). Run it in the transaction
 * that wrote the text: text and keyword index commit together.
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
