/**
 * One-off measurement for docs/decisions/postings-blocks.md: what keyword
 * postings would cost written as blocks (one row per term per batch, up to
 * BLOCK postings packed in a bytea) instead of one row per (term, record)
 * with the two B-trees kdb_postings has. Both layouts live in a scratch
 * database; nothing of the pipeline runs. Postings come from the scale
 * benchmark's corpus (zipfCorpus, 20–300 words, topics) through the `simple`
 * analyzer.
 *
 *   node --conditions=source --import tsx scripts/bench/measurePostingsBlocks.ts [base] [added] [turns]
 *
 * - load: `base` records into empty tables, in batches of 50,000 documents
 *   (the ingest's postingsBatch), each layout once;
 * - sizes of each layout after the load;
 * - added: `added` more records' postings into the loaded tables, inside a
 *   transaction rolled back (then VACUUM), the layouts alternating over
 *   `turns`: the cost a live entity pays per ingest;
 * - queries: the full BM25 sum of rare, common and multi-term queries, as
 *   one SQL statement over the rows against reading the terms' blocks and
 *   summing in process, alternating; the top 10 of both must agree.
 */
import { pipeline } from 'node:stream/promises';
import { Readable } from 'node:stream';
import { parseArgs } from 'node:util';
import pg from 'pg';
import copyStreams from 'pg-copy-streams';
import { analyzedFrequencies } from '@kameleondb/core';
import { dropDatabase, freshDatabase, percentile } from './harness.js';
import { keywordQueries, zipfCorpus, topicsOf, KIND_COMMON, KIND_MULTI, KIND_RARE } from './zipfCorpus.js';

const { positionals } = parseArgs({ allowPositionals: true });
const BASE = Number(positionals[0] ?? 100_000);
const ADDED = Number(positionals[1] ?? 30_000);
const TURNS = Number(positionals[2] ?? 4);
const BATCH = 50_000;
const BLOCK = 128;
const ENTITY = 'scale';
const K1 = 1.2;
const B = 0.75;
const log = (s: string) => process.stderr.write(`${new Date().toISOString().slice(11, 19)} ${s}\n`);

interface Doc {
  seq: number;
  id: string;
  len: number;
  tf: Map<string, number>;
}

const hex = (n: number, w: number) => n.toString(16).padStart(w, '0');
/** Deterministic UUIDv7-shaped ids in insertion order, as the API's are. */
const idOf = (seq: number) => `0190${hex(Math.floor(seq / 65536), 4)}-${hex(seq % 65536, 4)}-7000-8000-${hex(seq, 12)}`;

function docs(from: number, count: number, total: number): Doc[] {
  const out: Doc[] = [];
  let seq = 0;
  for (const r of zipfCorpus(from + count, { topics: topicsOf(total), topicShare: 0.3 })) {
    if (seq >= from) {
      const { tf, length } = analyzedFrequencies('simple', r.body);
      out.push({ seq, id: idOf(seq), len: length, tf });
    }
    seq++;
  }
  return out;
}

/** Text COPY lines of kdb_postings' columns, grouped by term as PostingsBuffer sends them. */
function rowLines(batch: readonly Doc[]): string {
  const byTerm = new Map<string, string[]>();
  for (const d of batch) for (const [term, tf] of d.tf) {
    let list = byTerm.get(term);
    if (!list) byTerm.set(term, (list = []));
    list.push(`${ENTITY}\t${term}\t${d.id}\t${tf}\t${d.len}\n`);
  }
  let out = '';
  for (const list of byTerm.values()) out += list.join('');
  return out;
}

/**
 * A block: `n` postings of one term in seq order, as int32 seq, uint16 tf and
 * int32 doc_len arrays one after the other (10 bytes a posting); its row
 * carries the block's max tf and min doc_len, the two halves of an upper
 * bound on any of its postings' BM25 weights.
 */
function encodeBlock(postings: readonly [number, number, number][]): Buffer {
  const n = postings.length;
  const buf = Buffer.allocUnsafe(n * 10);
  for (let i = 0; i < n; i++) {
    const [seq, tf, len] = postings[i]!;
    buf.writeInt32LE(seq, i * 4);
    buf.writeUInt16LE(tf, n * 4 + i * 2);
    buf.writeInt32LE(len, n * 6 + i * 4);
  }
  return buf;
}

function blockLines(batch: readonly Doc[]): { blocks: string; docs: string; rows: number } {
  const byTerm = new Map<string, [number, number, number][]>();
  for (const d of batch) for (const [term, tf] of d.tf) {
    let list = byTerm.get(term);
    if (!list) byTerm.set(term, (list = []));
    list.push([d.seq, tf, d.len]);
  }
  let blocks = '';
  let rows = 0;
  for (const [term, list] of byTerm) {
    for (let i = 0; i < list.length; i += BLOCK) {
      const part = list.slice(i, i + BLOCK);
      let maxTf = 0;
      let minLen = Infinity;
      for (const [, tf, len] of part) [maxTf, minLen] = [Math.max(maxTf, tf), Math.min(minLen, len)];
      blocks += `${ENTITY}\t${term}\t${part[0]![0]}\t${part.length}\t${maxTf}\t${minLen}\t\\\\x${encodeBlock(part).toString('hex')}\n`;
      rows++;
    }
  }
  const docLines = batch.map((d) => `${d.seq}\t${d.id}\t${d.len}\n`).join('');
  return { blocks, docs: docLines, rows };
}

async function copy(client: pg.ClientBase, sql: string, text: string): Promise<void> {
  await pipeline(Readable.from([Buffer.from(text)]), client.query(copyStreams.from(sql)));
}

const ROWS_DDL = `
CREATE TABLE p_rows (entity text NOT NULL, term text NOT NULL, record_id uuid NOT NULL, tf int NOT NULL, doc_len int NOT NULL);
CREATE INDEX p_rows_impact_idx ON p_rows (entity, term, tf, doc_len, record_id);
CREATE INDEX p_rows_record_idx ON p_rows (record_id, term) INCLUDE (tf, doc_len, entity);`;
const BLOCKS_DDL = `
CREATE TABLE p_blocks (entity text NOT NULL, term text NOT NULL, first_seq int NOT NULL, n int NOT NULL, max_tf int NOT NULL, min_len int NOT NULL, body bytea NOT NULL);
ALTER TABLE p_blocks ALTER COLUMN body SET STORAGE EXTERNAL;
CREATE INDEX p_blocks_term_idx ON p_blocks (entity, term, first_seq) INCLUDE (n, max_tf, min_len);
CREATE TABLE p_docs (seq int PRIMARY KEY, record_id uuid NOT NULL, doc_len int NOT NULL);`;

interface Payload {
  rows: string[];
  blocks: { blocks: string; docs: string; rows: number }[];
}

function payload(all: readonly Doc[]): Payload {
  const out: Payload = { rows: [], blocks: [] };
  for (let i = 0; i < all.length; i += BATCH) {
    const batch = all.slice(i, i + BATCH);
    out.rows.push(rowLines(batch));
    out.blocks.push(blockLines(batch));
  }
  return out;
}

async function writeRows(c: pg.ClientBase, p: Payload): Promise<void> {
  for (const text of p.rows) await copy(c, 'COPY p_rows FROM STDIN', text);
}
async function writeBlocks(c: pg.ClientBase, p: Payload): Promise<void> {
  for (const b of p.blocks) {
    await copy(c, 'COPY p_blocks FROM STDIN', b.blocks);
    await copy(c, 'COPY p_docs FROM STDIN', b.docs);
  }
}

async function timed(f: () => Promise<void>): Promise<number> {
  const t = performance.now();
  await f();
  return performance.now() - t;
}

const dbName = `kdb_proto_blocks_${process.pid}`;
const url = await freshDatabase(dbName);
const c = new pg.Client({ connectionString: url });
await c.connect();
try {
  log(`tokenizing ${BASE} + ${ADDED} records…`);
  const base = docs(0, BASE, BASE + ADDED);
  const added = docs(BASE, ADDED, BASE + ADDED);
  const t0 = performance.now();
  const basePayload = payload(base);
  const jsMs = performance.now() - t0;
  const addedPayload = payload(added);
  const postings = base.reduce((s, d) => s + d.tf.size, 0);
  const addedPostings = added.reduce((s, d) => s + d.tf.size, 0);
  log(`${postings} postings in ${BASE} records (${basePayload.blocks.reduce((s, b) => s + b.rows, 0)} blocks); grouping and encoding both layouts took ${jsMs.toFixed(0)} ms`);

  await c.query(ROWS_DDL);
  await c.query(BLOCKS_DDL);
  const loadRows = await timed(() => writeRows(c, basePayload));
  const loadBlocks = await timed(() => writeBlocks(c, basePayload));
  for (const sql of ['VACUUM ANALYZE p_rows', 'VACUUM ANALYZE p_blocks', 'VACUUM ANALYZE p_docs', 'CHECKPOINT']) await c.query(sql);
  const size = async (t: string) => Number((await c.query('SELECT pg_total_relation_size($1::regclass) AS b', [t])).rows[0].b);
  const rowsBytes = await size('p_rows');
  const blocksBytes = (await size('p_blocks')) + (await size('p_docs'));
  console.log(`load of ${BASE} records (${postings} postings) into empty tables: rows ${(loadRows / 1000).toFixed(2)} s, blocks ${(loadBlocks / 1000).toFixed(2)} s`);
  console.log(`bytes per record: rows ${(rowsBytes / BASE).toFixed(0)}, blocks + docs ${(blocksBytes / BASE).toFixed(0)}`);

  const added_: Record<'rows' | 'blocks', number[]> = { rows: [], blocks: [] };
  for (let t = 0; t < TURNS; t++) {
    const order = t % 2 === 0 ? (['rows', 'blocks'] as const) : (['blocks', 'rows'] as const);
    for (const layout of order) {
      await c.query('BEGIN');
      const ms = await timed(() => (layout === 'rows' ? writeRows(c, addedPayload) : writeBlocks(c, addedPayload)));
      await c.query('ROLLBACK');
      for (const t of layout === 'rows' ? ['p_rows'] : ['p_blocks', 'p_docs']) await c.query(`VACUUM ${t}`);
      added_[layout].push(ms);
    }
  }
  console.log(`${ADDED} records (${addedPostings} postings) into the loaded tables, per turn (s): rows ${added_.rows.map((x) => (x / 1000).toFixed(2)).join(', ')}; blocks ${added_.blocks.map((x) => (x / 1000).toFixed(2)).join(', ')}`);

  // Full BM25 sums over the base.
  const nDocs = BASE;
  const avgdl = base.reduce((s, d) => s + d.len, 0) / nDocs;
  const df = new Map<string, number>();
  for (const d of base) for (const term of d.tf.keys()) df.set(term, (df.get(term) ?? 0) + 1);
  const idf = (term: string) => Math.log(1 + (nDocs - df.get(term)! + 0.5) / (df.get(term)! + 0.5));
  const weight = (tf: number, len: number) => (tf * (K1 + 1)) / (tf + K1 * (1 - B + (B * len) / avgdl));
  const queries = keywordQueries(40, { filtered: false }).map((q) => ({ kind: q.kind, terms: q.q.split(' ').filter((t) => df.has(t)) })).filter((q) => q.terms.length > 0);
  const scores = new Float64Array(nDocs);
  const touched = new Int32Array(nDocs);
  async function blocksTop10(terms: string[]): Promise<{ id: string; score: number }[]> {
    const res = await c.query<{ term: string; n: number; body: Buffer }>('SELECT term, n, body FROM p_blocks WHERE entity = $1 AND term = ANY($2)', [ENTITY, terms]);
    let m = 0;
    for (const { term, n, body } of res.rows) {
      const w = idf(term);
      for (let i = 0; i < n; i++) {
        const seq = body.readInt32LE(i * 4);
        if (scores[seq] === 0) touched[m++] = seq;
        scores[seq]! += w * weight(body.readUInt16LE(n * 4 + i * 2), body.readInt32LE(n * 6 + i * 4));
      }
    }
    const top: number[] = [];
    for (let i = 0; i < m; i++) {
      const s = touched[i]!;
      top.push(s);
      if (top.length > 64) {
        top.sort((a, b) => scores[b]! - scores[a]! || a - b);
        top.length = 10;
      }
    }
    top.sort((a, b) => scores[b]! - scores[a]! || a - b);
    const best = top.slice(0, 10).map((s) => ({ seq: s, score: scores[s]! }));
    for (let i = 0; i < m; i++) scores[touched[i]!] = 0;
    const ids = await c.query<{ seq: number; record_id: string }>('SELECT seq, record_id FROM p_docs WHERE seq = ANY($1)', [best.map((b) => b.seq)]);
    const idOfSeq = new Map(ids.rows.map((r) => [r.seq, r.record_id]));
    return best.map((b) => ({ id: idOfSeq.get(b.seq)!, score: b.score }));
  }
  async function rowsTop10(terms: string[]): Promise<{ id: string; score: number }[]> {
    const res = await c.query<{ id: string; score: number }>(
      `SELECT p.record_id AS id, sum(q.idf * (p.tf * ($3::float8 + 1)) / (p.tf + $3::float8 * (1 - $4::float8 + $4::float8 * p.doc_len / $5::float8))) AS score
         FROM unnest($1::text[], $2::float8[]) AS q(term, idf) JOIN p_rows p ON p.entity = '${ENTITY}' AND p.term = q.term
        GROUP BY p.record_id ORDER BY score DESC, p.record_id LIMIT 10`,
      [terms, terms.map(idf), K1, B, avgdl],
    );
    return res.rows.map((r) => ({ id: r.id, score: Number(r.score) }));
  }
  const lat: Record<string, Record<'rows' | 'blocks', number[]>> = {};
  let agree = 0;
  for (let pass = 0; pass < 2; pass++)
    for (const [i, q] of queries.entries()) {
      const first = (i + pass) % 2 === 0;
      const run = async (layout: 'rows' | 'blocks') => {
        const t = performance.now();
        const got = layout === 'rows' ? await rowsTop10(q.terms) : await blocksTop10(q.terms);
        if (pass === 1) ((lat[q.kind] ??= { rows: [], blocks: [] })[layout]).push(performance.now() - t);
        return got;
      };
      const [a, b] = first ? [await run('rows'), await run('blocks')] : [await run('blocks'), await run('rows')].reverse();
      if (pass === 1 && a!.every((h, j) => h.id === b![j]?.id && Math.abs(h.score - b![j]!.score) < 1e-9)) agree++;
    }
  for (const kind of [KIND_RARE, KIND_COMMON, KIND_MULTI]) {
    const l = lat[kind];
    if (!l) continue;
    const f = (xs: number[]) => `${percentile(xs, 50).toFixed(2)} / ${percentile(xs, 95).toFixed(2)}`;
    console.log(`full sum, ${kind}, p50 / p95 ms over ${l.rows.length}: rows (SQL) ${f(l.rows)}; blocks (read + sum in process) ${f(l.blocks)}`);
  }
  console.log(`top 10 equal on ${agree} of ${queries.length} queries`);
} finally {
  await c.end();
  await dropDatabase(dbName);
}
