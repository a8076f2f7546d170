import type pg from 'pg';
import { copyText } from './copyText.js';

/** What the postings of one document are made of (keywordIndex's AnalyzedDoc is one). */
export interface PostingsDoc {
  id: string;
  /** Term frequencies of the document. */
  tf: ReadonlyMap<string, number>;
  /** Number of terms of the document. */
  length: number;
}

/**
 * Postings of analyzed documents, grouped by term as documents are added,
 * then written by one COPY into kdb_postings. Grouped by term, the postings
 * of one term go to the same pages of the impact index (entity, term, …) one
 * after another instead of to random pages (docs/decisions/postings-grouped-by-term.md).
 * Grouping as documents arrive, in compact arrays, keeps the event loop
 * free: the COPY's lines are made as the stream asks for them.
 * Only keywordIndex.ts drives it: every postings write goes through there.
 */
export class PostingsBuffer {
  private ids: string[] = [];
  private lengths: number[] = [];
  /**
   * Per term: (document index, term frequency) pairs in a typed array that
   * doubles as it fills, and how many ints are used. 4 bytes an int, against
   * 8 in a JS array of numbers: the buffer of a 50,000-document batch of long
   * texts is the largest thing an ingest holds (docs/decisions/postings-buffer-typed-arrays.md).
   */
  private byTerm = new Map<string, { pairs: Int32Array; used: number }>();

  constructor(private readonly entity: string) {}

  /** Documents added since the last write. */
  get documents(): number {
    return this.ids.length;
  }

  add(docs: readonly PostingsDoc[]): void {
    for (const doc of docs) {
      const index = this.ids.push(doc.id) - 1;
      this.lengths.push(doc.length);
      for (const [term, n] of doc.tf) {
        let list = this.byTerm.get(term);
        if (!list) this.byTerm.set(term, (list = { pairs: new Int32Array(4), used: 0 }));
        if (list.used === list.pairs.length) {
          const grown = new Int32Array(list.pairs.length * 2);
          grown.set(list.pairs);
          list.pairs = grown;
        }
        list.pairs[list.used++] = index;
        list.pairs[list.used++] = n;
      }
    }
  }

  /**
   * Writes the buffered postings with `client` (inside the transaction that
   * wrote the documents) and empties the buffer. The table's statement
   * trigger then adds each term's document frequency once for the batch.
   */
  async write(client: pg.ClientBase): Promise<void> {
    const { entity, ids, lengths, byTerm } = this;
    this.ids = [];
    this.lengths = [];
    this.byTerm = new Map();
    if (ids.length === 0) return;
    function* rows() {
      for (const [term, { pairs, used }] of byTerm) {
        for (let i = 0; i < used; i += 2) yield [entity, term, ids[pairs[i]!]!, pairs[i + 1]!, lengths[pairs[i]!]!];
      }
    }
    await copyText(client, 'kdb_postings', ['entity', 'term', 'record_id', 'tf', 'doc_len'], rows());
  }
}
