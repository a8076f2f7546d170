import { pipeline } from 'node:stream/promises';
import { Readable } from 'node:stream';
import type pg from 'pg';
import copyStreams from 'pg-copy-streams';

/**
 * The one home of kdb_postings_blocks' SQL (sql/000018_postings_blocks.sql):
 * writing a batch's blocks, reading a term's block metadata and bodies, and
 * checking that candidates still hold their numbers.
 */

/** Postings a block holds at most. */
const BLOCK_POSTINGS = 128;
/** Bytes a posting takes in a body: doc_no − first_doc, tf, doc_len, each a big-endian int4. */
const POSTING_BYTES = 12;
const MAX_OFFSET = 2_147_483_647;

const SIGNATURE = Buffer.from('PGCOPY\n\xff\r\n\0', 'latin1');

/** One block's row: its key (entity, term, first_doc), metadata and body. */
interface BlockRow {
  term: string;
  first: number;
  last: number;
  n: number;
  /** (tf, doc_len) pairs no other posting of the block outweighs, tf descending (sql/000018). */
  frontier: number[];
  minId: string;
  body: Buffer;
}

/** A frontier as stored: its (tf, doc_len) pairs as big-endian int4s. */
function frontierBytes(xs: readonly number[]): Buffer {
  const out = Buffer.allocUnsafe(4 * xs.length);
  xs.forEach((x, i) => out.writeInt32BE(x, 4 * i));
  return out;
}

/** The (tf, length) frontier of a block's postings: per tf, the least length, kept only where no higher tf has a length as small. */
function frontierOf(tfs: readonly number[], lens: readonly number[]): number[] {
  const least = new Map<number, number>();
  tfs.forEach((tf, i) => {
    const l = least.get(tf);
    if (l === undefined || lens[i]! < l) least.set(tf, lens[i]!);
  });
  const out: number[] = [];
  let best = Infinity;
  for (const tf of [...least.keys()].sort((a, b) => b - a)) {
    const len = least.get(tf)!;
    if (len < best) {
      out.push(tf, len);
      best = len;
    }
  }
  return out;
}

/** A block row in binary COPY form (8 fields). */
function encodeRow(entity: Buffer, r: BlockRow): Buffer {
  const term = Buffer.from(r.term, 'utf8');
  const frontier = frontierBytes(r.frontier);
  const out = Buffer.allocUnsafe(2 + (4 + entity.length) + (4 + term.length) + 12 * 2 + 8 + (4 + frontier.length) + 20 + 4 + r.body.length);
  let o = out.writeInt16BE(8, 0);
  o = out.writeInt32BE(entity.length, o);
  o += entity.copy(out, o);
  o = out.writeInt32BE(term.length, o);
  o += term.copy(out, o);
  o = out.writeInt32BE(8, o);
  o = out.writeBigInt64BE(BigInt(r.first), o);
  o = out.writeInt32BE(8, o);
  o = out.writeBigInt64BE(BigInt(r.last), o);
  o = out.writeInt32BE(4, o);
  o = out.writeInt32BE(r.n, o);
  o = out.writeInt32BE(frontier.length, o);
  o += frontier.copy(out, o);
  o = out.writeInt32BE(16, o);
  o += Buffer.from(r.minId.replace(/-/g, ''), 'hex').copy(out, o);
  o = out.writeInt32BE(r.body.length, o);
  r.body.copy(out, o);
  return out;
}

/** Cuts one term's postings (doc_no, tf, doc_len, record id; doc_no ascending) into blocks. */
function* blocksOf(term: string, postings: Iterable<readonly [number, number, number, string]>): Generator<BlockRow> {
  let body = Buffer.allocUnsafe(BLOCK_POSTINGS * POSTING_BYTES);
  let n = 0;
  let first = 0;
  let last = 0;
  let tfs: number[] = [];
  let lens: number[] = [];
  let minId = '';
  const cut = (): BlockRow => {
    const row = { term, first, last, n, frontier: frontierOf(tfs, lens), minId, body: body.subarray(0, n * POSTING_BYTES) };
    body = Buffer.allocUnsafe(BLOCK_POSTINGS * POSTING_BYTES);
    n = 0;
    tfs = [];
    lens = [];
    return row;
  };
  for (const [docNo, tf, len, id] of postings) {
    if (n > 0 && (n === BLOCK_POSTINGS || docNo - first > MAX_OFFSET)) yield cut();
    if (n === 0) first = docNo;
    if (docNo < last && n > 0) throw new Error(`postings of "${term}" out of doc_no order (${docNo} after ${last})`);
    const o = n * POSTING_BYTES;
    body.writeInt32BE(docNo - first, o);
    body.writeInt32BE(tf, o + 4);
    body.writeInt32BE(len, o + 8);
    last = docNo;
    tfs.push(tf);
    lens.push(len);
    if (n === 0 || id < minId) minId = id;
    n++;
  }
  if (n > 0) yield cut();
}

/**
 * Writes blocks of postings under `key`: per term, its postings (doc_no,
 * tf, doc_len, record id) in doc_no order, cut into blocks of up to BLOCK_POSTINGS. One binary COPY, encoded
 * as the stream asks for it (a batch's bodies are never all in memory at
 * once); the table's trigger adds the document frequencies.
 */
export async function writeBlocks(client: pg.ClientBase, key: string, terms: Iterable<readonly [string, Iterable<readonly [number, number, number, string]>]>): Promise<void> {
  const entity = Buffer.from(key, 'utf8');
  function* chunks(): Generator<Buffer> {
    let parts: Buffer[] = [SIGNATURE, Buffer.alloc(8)];
    let size = 0;
    for (const [term, postings] of terms) {
      for (const row of blocksOf(term, postings)) {
        const b = encodeRow(entity, row);
        parts.push(b);
        size += b.length;
        if (size > 1 << 18) {
          yield Buffer.concat(parts);
          parts = [];
          size = 0;
        }
      }
    }
    const trailer = Buffer.allocUnsafe(2);
    trailer.writeInt16BE(-1, 0);
    parts.push(trailer);
    yield Buffer.concat(parts);
  }
  const stream = client.query(
    copyStreams.from('COPY kdb_postings_blocks (entity, term, first_doc, last_doc, n, frontier, min_id, body) FROM STDIN (FORMAT binary)'),
  );
  await pipeline(Readable.from(chunks()), stream);
}

/** A block's metadata, as search reads it (the index's INCLUDE columns: no body, no table visit). */
export interface BlockHead {
  entity: string;
  term: string;
  first: number;
  last: number;
  n: number;
  /** (tf, doc_len) pairs, flattened: the block's best weight is the best of theirs. */
  frontier: Int32Array;
  /** The least record id of its documents. */
  min_id: string;
}

/**
 * One row per (key, term): its blocks' metadata packed into one bytea, in
 * first_doc order, each as first_doc, last_doc (int8), n, the frontier's
 * byte length (int4), the frontier, min_id (16 bytes). Parsing thousands of
 * rows of arrays and uuids cost the client ten times what the index scan did.
 */
const HEADS_SQL = `
  SELECT entity, term,
         string_agg(int8send(first_doc) || int8send(last_doc) || int4send(n) || int4send(length(frontier)) || frontier || uuid_send(min_id), ''::bytea ORDER BY first_doc) AS packed
    FROM kdb_postings_blocks WHERE entity = ANY($1::text[]) AND term = ANY($2::text[])
   GROUP BY entity, term`;

const hex = (b: Buffer, at: number) => {
  const h = b.toString('hex', at, at + 16);
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
};

/** The metadata of every block of `terms` under `keys`. */
export async function readBlockHeads(db: pg.Pool | pg.ClientBase, keys: readonly string[], terms: readonly string[]): Promise<{ heads: BlockHead[]; query: { text: string; values: unknown[] } }> {
  const query = { text: HEADS_SQL, values: [keys, terms] as unknown[] };
  const { rows } = await db.query<{ entity: string; term: string; packed: Buffer }>({ name: 'kdb_block_heads', ...query });
  const heads: BlockHead[] = [];
  for (const { entity, term, packed: p } of rows) {
    for (let o = 0; o < p.length; ) {
      const first = Number(p.readBigInt64BE(o));
      const last = Number(p.readBigInt64BE(o + 8));
      const n = p.readInt32BE(o + 16);
      const fl = p.readInt32BE(o + 20);
      const frontier = new Int32Array(fl / 4);
      for (let i = 0; i < frontier.length; i++) frontier[i] = p.readInt32BE(o + 24 + 4 * i);
      o += 24 + fl;
      heads.push({ entity, term, first, last, n, frontier, min_id: hex(p, o) });
      o += 16;
    }
  }
  return { heads, query };
}

const BODIES_SQL = `
  SELECT b.entity, b.term, b.first_doc::float8 AS first, b.body
    FROM unnest($1::text[], $2::text[], $3::bigint[]) AS k(entity, term, first_doc)
    JOIN kdb_postings_blocks b ON b.entity = k.entity AND b.term = k.term AND b.first_doc = k.first_doc`;

/** Decoded postings of a block: doc numbers, tfs and lengths, in doc_no order. */
export interface BlockPostings {
  docs: Float64Array;
  tfs: Int32Array;
  lens: Int32Array;
}

function decodeBody(first: number, body: Buffer): BlockPostings {
  const n = body.length / POSTING_BYTES;
  const docs = new Float64Array(n);
  const tfs = new Int32Array(n);
  const lens = new Int32Array(n);
  for (let i = 0, o = 0; i < n; i++, o += POSTING_BYTES) {
    docs[i] = first + body.readInt32BE(o);
    tfs[i] = body.readInt32BE(o + 4);
    lens[i] = body.readInt32BE(o + 8);
  }
  return { docs, tfs, lens };
}

/** The bodies of the given blocks, decoded, by `${entity}\0${term}\0${first}`. A block gone meanwhile (an analyzer's old generation dropped) is absent. */
export async function readBlockBodies(
  db: pg.Pool | pg.ClientBase,
  blocks: readonly { entity: string; term: string; first: number }[],
): Promise<{ bodies: Map<string, BlockPostings>; query: { text: string; values: unknown[] } }> {
  const query = { text: BODIES_SQL, values: [blocks.map((b) => b.entity), blocks.map((b) => b.term), blocks.map((b) => b.first)] as unknown[] };
  const { rows } = await db.query<{ entity: string; term: string; first: number; body: Buffer }>({ name: 'kdb_block_bodies', ...query });
  const bodies = new Map<string, BlockPostings>();
  for (const r of rows) bodies.set(blockKey(r), decodeBody(r.first, r.body));
  return { bodies, query };
}

export const blockKey = (b: { entity: string; term: string; first: number }) => `${b.entity}\u0000${b.term}\u0000${b.first}`;

const LIVE_SQL = `
  SELECT s.doc_no::float8 AS doc_no, s.doc_key, s.record_id AS id
    FROM unnest($1::bigint[], $2::text[]) AS c(doc_no, key)
    JOIN kdb_search s ON s.doc_no = c.doc_no AND s.doc_key = c.key`;

const LIVE_WHERE_SQL = `
  SELECT s.doc_no::float8 AS doc_no, s.doc_key, s.record_id AS id
    FROM unnest($1::bigint[], $2::text[]) AS c(doc_no, key)
    JOIN kdb_search s ON s.doc_no = c.doc_no AND s.doc_key = c.key
    JOIN kdb_records r ON r.id = s.record_id
   WHERE r.data @> $3::jsonb`;

/**
 * Of the candidates (doc number, key), those whose document still has that
 * number under that key (not deleted, text unchanged since its blocks were
 * written) and, with `where`, whose record matches it: their record ids.
 */
export async function liveBlockDocs(
  db: pg.Pool | pg.ClientBase,
  docs: readonly { docNo: number; key: string }[],
  where: string | undefined,
): Promise<{ live: Map<number, string>; query: { text: string; values: unknown[] } }> {
  const values: unknown[] = [docs.map((d) => d.docNo), docs.map((d) => d.key)];
  const query = where ? { text: LIVE_WHERE_SQL, values: [...values, where] } : { text: LIVE_SQL, values };
  const { rows } = await db.query<{ doc_no: number; id: string }>({ name: where ? 'kdb_block_live_where' : 'kdb_block_live', ...query });
  return { live: new Map(rows.map((r) => [r.doc_no, r.id])), query };
}

/**
 * Takes documents out of the blocks before their text changes (their block
 * postings become dead, their terms leave the document frequencies); the
 * caller then writes their new postings as rows. Returns how many were in blocks.
 */
export async function leaveBlocks(client: pg.ClientBase, ids: readonly string[]): Promise<number> {
  const { rows } = await client.query<{ n: number }>(
    `WITH gone AS (
       UPDATE kdb_search s SET doc_no = NULL, doc_key = NULL, doc_terms = NULL
         FROM kdb_search old
        WHERE s.record_id = ANY($1::uuid[]) AND old.record_id = s.record_id AND s.doc_no IS NOT NULL
        RETURNING old.entity, old.doc_key, old.doc_terms)
     SELECT kdb_blocks_forget(jsonb_agg(jsonb_build_object('entity', entity, 'doc_key', doc_key, 'doc_terms', doc_terms))) AS n FROM gone`,
    [ids],
  );
  return rows[0]?.n ?? 0;
}

/** Deletes up to `limit` blocks of `key` (an analyzer's dropped generation); returns how many. No statistics change: the key's are dropped with it. */
export async function dropBlocks(db: pg.Pool | pg.ClientBase, key: string, limit: number): Promise<number> {
  const { rowCount } = await db.query('DELETE FROM kdb_postings_blocks WHERE ctid = ANY(ARRAY(SELECT ctid FROM kdb_postings_blocks WHERE entity = $1 LIMIT $2))', [key, limit]);
  return rowCount ?? 0;
}

/** Reserves `n` document numbers (increasing within the transaction's session). */
export async function reserveDocNumbers(client: pg.ClientBase, n: number): Promise<number[]> {
  const { rows } = await client.query<{ nos: string[] }>({ name: 'kdb_doc_numbers', text: "SELECT array_agg(nextval('kdb_doc_seq') ORDER BY i)::text[] AS nos FROM generate_series(1, $1::int) AS i", values: [n] });
  return (rows[0]?.nos ?? []).map(Number).sort((a, b) => a - b);
}
