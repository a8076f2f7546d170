import type pg from 'pg';
import { copyText } from './copyText.js';
import { writeBlocks, type TermPostings } from './postingsBlockStore.js';
import { ownString } from '../util/ownString.js';

/** What the postings of one document are made of (keywordIndex's AnalyzedDoc is one). */
export interface PostingsDoc {
  id: string;
  /** Term frequencies of the document. */
  tf: ReadonlyMap<string, number>;
  /** Number of terms of the document. */
  length: number;
  /** The document's number when its postings go into blocks (kdb_search.doc_no); absent for postings as rows. */
  docNo?: number | undefined;
}

/**
 * Ints of the largest page of the pool: pages are added, never grown, so no
 * copy of everything held is ever made; the first is small (a PATCH's buffer
 * holds a few terms) and each next one twice its predecessor, up to this.
 */
const PAGE_INTS = 1 << 20;
const FIRST_PAGE_INTS = 1 << 13;
/** A chunk is [next chunk, capacity, used, pairs…]; a term's first holds one pair, each next one twice its predecessor, up to this. */
const MAX_CHUNK_INTS = 4096;
const HEADER = 3;
/**
 * Heap bytes a term costs beyond its characters: its Map entry, its string
 * header and its list slot (heap after a full GC on Node 20, bench:scale's
 * corpus: about 60 a term over 250,000 terms).
 */
const TERM_BYTES = 64;
/** Heap bytes a document costs: its id string and its length. */
const DOC_BYTES = 96;

/**
 * Postings of analyzed documents, grouped by term as documents are added,
 * then written by one COPY: into kdb_postings_blocks when the documents are
 * numbered (each term's run cut into blocks), else into kdb_postings. Grouped by term, the postings
 * of one term go to the same pages of the impact index (entity, term, …) one
 * after another instead of to random pages (docs/decisions/postings-grouped-by-term.md).
 * Grouping as documents arrive keeps the event loop free: the COPY's lines
 * are made as the stream asks for them.
 *
 * Each term's (document index, term frequency) pairs live in a chain of
 * chunks in one pool of Int32Array pages, and the term itself is a Map entry
 * to a slot number: no object per term, so a batch whose vocabulary grows
 * (a corpus's does with its size; a hostile request's by design) costs tens
 * of bytes of heap a term (docs/decisions/postings-buffer-typed-arrays.md).
 * `bytes` is what the buffer holds, for its writer to bound.
 * Only keywordIndex.ts drives it: every postings write goes through there.
 */
export class PostingsBuffer {
  private ids: string[] = [];
  private lengths: number[] = [];
  private docNos: number[] = [];
  private slots = new Map<string, number>();
  private termList: string[] = [];
  /** Per slot: the pool offset of its first chunk, and of its last. */
  private heads: Int32Array<ArrayBuffer> = new Int32Array(1024);
  private tails: Int32Array<ArrayBuffer> = new Int32Array(1024);
  private pages: Int32Array[] = [];
  /** Next free int of the last page, and the ints of all pages. */
  private free = 0;
  private pageInts = 0;
  private termChars = 0;

  constructor(private readonly entity: string) {}

  /** Documents added since the last write. */
  get documents(): number {
    return this.ids.length;
  }

  /** Distinct terms added since the last write. */
  get terms(): number {
    return this.termList.length;
  }

  /** What the buffer holds, in bytes: its pool pages, and the heap its terms and documents take. */
  get bytes(): number {
    return this.pageInts * 4 + this.termList.length * TERM_BYTES + this.termChars * 2 + this.ids.length * DOC_BYTES + this.heads.length * 8;
  }

  /** The buffered documents' ids and lengths, in the order they were added. */
  documentLengths(): { ids: readonly string[]; lengths: readonly number[] } {
    return { ids: this.ids, lengths: this.lengths };
  }

  add(docs: readonly PostingsDoc[]): void {
    for (const doc of docs) {
      const index = this.ids.push(doc.id) - 1;
      this.lengths.push(doc.length);
      if (doc.docNo !== undefined) this.docNos.push(doc.docNo);
      for (const [term, n] of doc.tf) this.append(this.slotOf(term), index, n);
    }
  }

  private slotOf(found: string): number {
    let slot = this.slots.get(found);
    if (slot !== undefined) return slot;
    // A term is a slice of its document's text: kept as it is, it would keep that text until the write.
    const term = ownString(found);
    slot = this.termList.push(term) - 1;
    this.slots.set(term, slot);
    this.termChars += term.length;
    if (slot === this.heads.length) {
      this.heads = grown(this.heads);
      this.tails = grown(this.tails);
    }
    const chunk = this.chunk(2);
    this.heads[slot] = chunk;
    this.tails[slot] = chunk;
    return slot;
  }

  /** A new chunk of `capacity` ints; returns its pool offset. */
  private chunk(capacity: number): number {
    const last = this.pages[this.pages.length - 1];
    if (!last || this.free + HEADER + capacity > last.length) {
      const size = Math.min(PAGE_INTS, Math.max(FIRST_PAGE_INTS, 2 * (last?.length ?? 0)));
      this.pages.push(new Int32Array(size));
      this.pageInts += size;
      this.free = 0;
    }
    const page = this.pages[this.pages.length - 1]!;
    const at = this.free;
    page[at] = -1;
    page[at + 1] = capacity;
    page[at + 2] = 0;
    this.free += HEADER + capacity;
    return (this.pages.length - 1) * PAGE_INTS + at;
  }

  private append(slot: number, doc: number, tf: number): void {
    let at = this.tails[slot]!;
    let page = this.pages[Math.floor(at / PAGE_INTS)]!;
    let i = at % PAGE_INTS;
    if (page[i + 2] === page[i + 1]) {
      const next = this.chunk(Math.min(MAX_CHUNK_INTS, page[i + 1]! * 2));
      page[i] = next;
      this.tails[slot] = at = next;
      page = this.pages[Math.floor(at / PAGE_INTS)]!;
      i = at % PAGE_INTS;
    }
    const used = page[i + 2]!;
    page[i + HEADER + used] = doc;
    page[i + HEADER + used + 1] = tf;
    page[i + 2] = used + 2;
  }

  /** Empties the buffer, handing over what it held. */
  private take() {
    const { ids, lengths, docNos, termList: terms, heads, pages } = this;
    this.ids = [];
    this.lengths = [];
    this.docNos = [];
    this.slots = new Map();
    this.termList = [];
    this.heads = new Int32Array(1024);
    this.tails = new Int32Array(1024);
    this.pages = [];
    this.free = 0;
    this.pageInts = 0;
    this.termChars = 0;
    /** Fills `docs` and `tfs` with a term's (document index, tf) pairs, in the order added; returns their count. */
    function pairsOf(slot: number, docs: Int32Array, tfs: Int32Array): number {
      let k = 0;
      for (let at = heads[slot]!; at !== -1; ) {
        const page = pages[Math.floor(at / PAGE_INTS)]!;
        const i = at % PAGE_INTS;
        const end = i + HEADER + page[i + 2]!;
        for (let j = i + HEADER; j < end; j += 2, k++) {
          docs[k] = page[j]!;
          tfs[k] = page[j + 1]!;
        }
        at = page[i]!;
      }
      return k;
    }
    return { ids, lengths, docNos, terms, pairsOf };
  }

  /**
   * Writes the buffered postings with `client` (inside the transaction that
   * wrote the documents) and empties the buffer. The table's statement
   * trigger then adds each term's document frequency once for the batch.
   * Documents with a docNo go into kdb_postings_blocks (every document of
   * the buffer has one, or none has), the others into kdb_postings.
   */
  async write(client: pg.ClientBase): Promise<void> {
    const { entity } = this;
    const { ids, lengths, docNos, terms, pairsOf } = this.take();
    if (ids.length === 0) return;
    // A term is in a document once: its pairs fit arrays of one slot per document, reused term after term.
    const docs = new Int32Array(ids.length);
    const tfs = new Int32Array(ids.length);
    if (docNos.length) {
      if (docNos.length !== ids.length) throw new Error(`postings of ${ids.length} documents, ${docNos.length} of them numbered: a buffer holds blocks or rows, not both`);
      const run: TermPostings = { term: '', n: 0, docNo: new Float64Array(ids.length), tf: tfs, len: new Int32Array(ids.length), id: new Array<string>(ids.length) };
      const runIds = run.id as string[];
      await writeBlocks(client, entity, function* () {
        for (let slot = 0; slot < terms.length; slot++) {
          run.term = terms[slot]!;
          run.n = pairsOf(slot, docs, tfs);
          for (let i = 0; i < run.n; i++) {
            const doc = docs[i]!;
            run.docNo[i] = docNos[doc]!;
            run.len[i] = lengths[doc]!;
            runIds[i] = ids[doc]!;
          }
          yield run;
        }
      });
      return;
    }
    function* rows() {
      for (let slot = 0; slot < terms.length; slot++) {
        const term = terms[slot]!;
        const n = pairsOf(slot, docs, tfs);
        for (let i = 0; i < n; i++) yield [entity, term, ids[docs[i]!]!, tfs[i]!, lengths[docs[i]!]!];
      }
    }
    await copyText(client, 'kdb_postings', ['entity', 'term', 'record_id', 'tf', 'doc_len'], rows());
  }
}

function grown(a: Int32Array<ArrayBuffer>): Int32Array<ArrayBuffer> {
  const out = new Int32Array(a.length * 2);
  out.set(a);
  return out;
}
