import type pg from 'pg';
import { analyzedFrequencies, type Analyzer } from '../content/analyzers.js';
import { NotFoundError } from '../errors.js';
import { PostingsBuffer } from './PostingsBuffer.js';
import { leaveBlocks, reserveDocNumbers } from './postingsBlockStore.js';

/**
 * The keyword index: every write of postings and of document lengths goes
 * through this module (ingest through KeywordIndexWriter, PATCH and
 * recompute through indexKeywords with `replace`). Document counts and term
 * document frequencies follow through the table triggers. Every statistics
 * write goes to the transaction's own slot (`kdb_bm25_slot()`, sql/000008):
 * concurrent writers never wait on each other's statistics rows, so they
 * cannot deadlock on them whatever order their statements come in.
 *
 * An entity's postings live under its postings key, analyzed by its
 * analyzer; while a rebuild for another analyzer runs (sql/000011), every
 * write goes to the next key too, analyzed by the next analyzer, with the
 * document's next length in kdb_postings_next_len.
 */

/** Where an entity's postings are written: its current key, and the next one during a rebuild. */
export interface PostingsTargets {
  entity: string;
  current: { key: string; analyzer: Analyzer };
  next: { key: string; analyzer: Analyzer } | null;
}

/**
 * The entity's postings targets, read with its row locked FOR SHARE until
 * the transaction ends: a rebuild's start, switch or cancel (which update
 * the row) waits for this write, and this write for them, so every write
 * lands in each generation that serves or will serve searches.
 */
export async function postingsTargets(client: pg.ClientBase, entity: string): Promise<PostingsTargets> {
  const { rows } = await client.query<{ analyzer: Analyzer; postings_key: string | null; next_analyzer: Analyzer | null; next_postings_key: string | null }>(
    'SELECT analyzer, postings_key, next_analyzer, next_postings_key FROM kdb_entities WHERE name = $1 FOR SHARE',
    [entity],
  );
  const r = rows[0];
  if (!r) throw new NotFoundError(`entity "${entity}" does not exist (it was deleted while this request was being written)`, { name: entity });
  return {
    entity,
    current: { key: r.postings_key ?? entity, analyzer: r.analyzer },
    next: r.next_analyzer && r.next_postings_key ? { key: r.next_postings_key, analyzer: r.next_analyzer } : null,
  };
}

export interface KeywordDoc {
  id: string;
  content: string;
}

export type AnalyzedDoc = KeywordDoc & { tf: Map<string, number>; length: number; docNo?: number | undefined };

/** Terms of a document under `analyzer` (default simple), computed once: its length goes into kdb_search.doc_len, its postings into kdb_postings. */
export function analyze(doc: KeywordDoc, analyzer: Analyzer = 'simple'): AnalyzedDoc {
  return { ...doc, ...analyzedFrequencies(analyzer, doc.content) };
}

/**
 * The next generation's postings and lengths of documents (a rebuild's
 * batch, or a writer during a rebuild); with `replace`, their postings under
 * that key are removed first. The caller holds each document's kdb_search
 * row locked (written, updated or FOR SHARE), so a rebuild batch and a
 * writer never both add postings of one document.
 */
export async function indexNextGeneration(client: pg.ClientBase, key: string, docs: readonly AnalyzedDoc[], opts: { replace: boolean }): Promise<void> {
  if (docs.length === 0) return;
  const postings = new PostingsBuffer(key);
  postings.add(docs);
  await writeNextGeneration(client, key, postings, opts);
}

/** indexNextGeneration for documents already in `postings` (built for `key`); empties it. */
async function writeNextGeneration(client: pg.ClientBase, key: string, postings: PostingsBuffer, opts: { replace: boolean }): Promise<void> {
  const { ids, lengths } = postings.documentLengths();
  if (ids.length === 0) return;
  if (opts.replace) await client.query('DELETE FROM kdb_postings WHERE entity = $1 AND record_id = ANY($2::uuid[])', [key, ids]);
  await client.query(
    `INSERT INTO kdb_postings_next_len (record_id, key, doc_len) SELECT * FROM unnest($1::uuid[], $2::text[], $3::int[])
     ON CONFLICT (record_id) DO UPDATE SET key = EXCLUDED.key, doc_len = EXCLUDED.doc_len`,
    [ids, ids.map(() => key), lengths],
  );
  await postings.write(client);
}

/** Default of KeywordIndexWriter's `batchDocs`. */
export const POSTINGS_BATCH_DOCS = 50_000;
/**
 * Defaults of KeywordIndexWriter's `batchBytes` and `batchTerms`. A
 * 50,000-document batch of bench:scale's corpus at a million records
 * (250,000 terms, 5.1M postings) holds about 95 MB, 20 of them heap, so
 * realistic batches end by their documents; a request whose records bring
 * ever-new terms ends its batches by these. Terms are bounded on their own
 * because each costs heap (its Map entry and string, and the Map's growth
 * doubles its table at once): half a million take about 50 MB.
 */
export const POSTINGS_BATCH_BYTES = 128 * 1024 * 1024;
export const POSTINGS_BATCH_TERMS = 500_000;

export interface KeywordIndexWriterOptions {
  /**
   * Documents whose postings are written by one COPY. Default
   * POSTINGS_BATCH_DOCS (50,000): the statement's trigger then updates each
   * term's document frequency once per batch instead of once per chunk,
   * which a long transaction makes dearer each time
   * (docs/decisions/postings-batches.md).
   */
  batchDocs?: number;
  /**
   * Bytes the buffered postings may hold (both generations during an
   * analyzer change) before they are written, whatever the documents' count.
   * Default POSTINGS_BATCH_BYTES: the ingest's memory then does not grow with
   * the vocabulary of a batch.
   */
  batchBytes?: number;
  /** Distinct terms buffered (both generations) before they are written. Default POSTINGS_BATCH_TERMS. */
  batchTerms?: number;
  /**
   * A chunk of at least this many documents has its postings written as
   * blocks (kdb_postings_blocks), a smaller one as rows. Default
   * BLOCKS_MIN_DOCS.
   */
  blocksMinDocs?: number;
}

/**
 * Default of KeywordIndexWriter's `blocksMinDocs`. Blocks pay off for
 * batches: a chunk of a few documents would write about one block per
 * posting, and a term's blocks are what a search reads first, so small
 * writes (a single record, a short request) stay rows.
 */
export const BLOCKS_MIN_DOCS = 256;

/** The block fields of new search rows (kdb_search.doc_no, doc_key, doc_terms). */
export interface DocNumbers {
  docNos: readonly number[];
  docKey: string;
  docTerms: readonly string[];
}

/**
 * Postings of new documents (an ingest), buffered across chunks and written
 * by batches (at `batchDocs`, `batchBytes` or `batchTerms`, checked after each
 * add, so a batch may pass a bound by one add's documents), grouped by term. Use it inside the transaction
 * that writes the documents, and `flush` before that transaction commits:
 * text and keyword index commit together.
 */
export class KeywordIndexWriter {
  private readonly buffer: PostingsBuffer;
  /** Postings of numbered documents (chunks of at least blocksMinDocs), written as blocks. */
  private readonly blocks: PostingsBuffer;
  private readonly blocksMinDocs: number;
  private readonly batchDocs: number;
  private readonly batchBytes: number;
  private readonly batchTerms: number;
  /** The next generation's postings during an analyzer change, written with each batch. */
  private readonly nextBuffer: PostingsBuffer | null;

  private constructor(
    readonly targets: PostingsTargets,
    opts: KeywordIndexWriterOptions,
  ) {
    this.buffer = new PostingsBuffer(targets.current.key);
    this.blocks = new PostingsBuffer(targets.current.key);
    this.blocksMinDocs = opts.blocksMinDocs ?? BLOCKS_MIN_DOCS;
    this.nextBuffer = targets.next ? new PostingsBuffer(targets.next.key) : null;
    this.batchDocs = opts.batchDocs ?? POSTINGS_BATCH_DOCS;
    this.batchBytes = opts.batchBytes ?? POSTINGS_BATCH_BYTES;
    this.batchTerms = opts.batchTerms ?? POSTINGS_BATCH_TERMS;
  }

  /** A writer for `entity`'s postings in `client`'s transaction (its targets read and locked: postingsTargets). */
  static async open(client: pg.ClientBase, entity: string, opts: KeywordIndexWriterOptions = {}): Promise<KeywordIndexWriter> {
    return new KeywordIndexWriter(await postingsTargets(client, entity), opts);
  }

  /** A document analyzed by the entity's current analyzer (its length is the kdb_search.doc_len to write). */
  analyze(doc: KeywordDoc): AnalyzedDoc {
    return analyze(doc, this.targets.current.analyzer);
  }

  /**
   * Numbers a chunk's documents (sets their docNo) when it is large enough
   * for blocks: what their search rows must carry (insertSearchRows), in the
   * same transaction. Null: the chunk's postings will be rows.
   */
  async number(client: pg.ClientBase, docs: readonly AnalyzedDoc[]): Promise<DocNumbers | null> {
    if (docs.length < this.blocksMinDocs) return null;
    const docNos = await reserveDocNumbers(client, docs.length);
    docs.forEach((d, i) => (d.docNo = docNos[i]!));
    return { docNos, docKey: this.targets.current.key, docTerms: docs.map((d) => [...d.tf.keys()].join(' ')) };
  }

  /** Buffers the postings of `docs` (from this.analyze, numbered by this.number or not); writes them with `client` once a batch is full. */
  async add(client: pg.ClientBase, docs: readonly AnalyzedDoc[]): Promise<void> {
    const numbered = docs.filter((d) => d.docNo !== undefined);
    this.blocks.add(numbered);
    this.buffer.add(numbered.length === docs.length ? [] : docs.filter((d) => d.docNo === undefined));
    const next = this.targets.next;
    // The next generation's postings are rows: its documents must not carry this one's numbers (blocks live under the current key alone).
    if (next) for (const d of docs) this.nextBuffer!.add([analyze({ id: d.id, content: d.content }, next.analyzer)]);
    const current = [this.buffer, this.blocks];
    const [bytes, terms] = [current.reduce((x, b) => x + b.bytes, this.nextBuffer?.bytes ?? 0), current.reduce((x, b) => x + b.terms, this.nextBuffer?.terms ?? 0)];
    if (this.buffer.documents + this.blocks.documents >= this.batchDocs || bytes >= this.batchBytes || terms >= this.batchTerms) await this.flush(client);
  }

  /** Writes whatever is buffered. */
  async flush(client: pg.ClientBase): Promise<void> {
    await this.buffer.write(client);
    await this.blocks.write(client);
    if (this.targets.next) await writeNextGeneration(client, this.targets.next.key, this.nextBuffer!, { replace: false });
  }
}

/**
 * Analyzes documents as the entity's analyzer(s) say and writes their
 * postings in one statement per generation; with `replace`, first
 * removes their old postings and sets their new length (adjusting the
 * entity's total length in the same statement). Run it in the transaction
 * that wrote the text: text and keyword index commit together.
 */
export async function indexKeywords(
  client: pg.ClientBase,
  entity: string,
  texts: readonly KeywordDoc[],
  opts: { replace: boolean },
): Promise<void> {
  if (texts.length === 0) return;
  const targets = await postingsTargets(client, entity);
  const docs = texts.map((d) => analyze(d, targets.current.analyzer));
  const ids = docs.map((d) => d.id);
  if (targets.next) await indexNextGeneration(client, targets.next.key, texts.map((d) => analyze(d, targets.next!.analyzer)), opts);
  if (opts.replace) {
    await client.query('DELETE FROM kdb_postings WHERE entity = $1 AND record_id = ANY($2::uuid[])', [targets.current.key, ids]);
    // Postings in blocks are not removed but disowned: the new ones are rows.
    await leaveBlocks(client, ids);
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
  const postings = new PostingsBuffer(targets.current.key);
  postings.add(docs);
  await postings.write(client);
}
