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
  /** Per term: pairs of (document index, term frequency). */
  private byTerm = new Map<string, number[]>();

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
        if (!list) this.byTerm.set(term, (list = []));
        list.push(index, n);
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
      for (const [term, list] of byTerm) {
        for (let i = 0; i < list.length; i += 2) yield [entity, term, ids[list[i]!]!, list[i + 1]!, lengths[list[i]!]!];
      }
    }
    await copyText(client, 'kdb_postings', ['entity', 'term', 'record_id', 'tf', 'doc_len'], rows());
  }
}
