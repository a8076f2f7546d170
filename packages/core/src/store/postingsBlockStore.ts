import { pipeline } from 'node:stream/promises';
import { Readable } from 'node:stream';
import type pg from 'pg';
import copyStreams from 'pg-copy-streams';

/**
 * The one home of the SQL of kdb_postings_blocks and kdb_postings_groups
 * (sql/000018, sql/000019): writing a batch's blocks and their groups,
 * reading a term's groups, a group's block heads and blocks' bodies, and
 * checking that candidates still hold their numbers.
 */

/** Postings a block holds at most. */
const BLOCK_POSTINGS = 128;
/**
 * Blocks a group's heads hold at most (sql/000019). A common term's first
 * read is its groups, and each group search opens reads its heads: 32 keeps
 * both small for a term in every one of a million records (about 240 groups,
 * a few opened).
 */
const GROUP_BLOCKS = 32;
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

/** A block's head as search reads it (the packing of HEADS_SQL and of a group's heads). */
function headBytes(r: Pick<BlockRow, 'first' | 'last' | 'n' | 'frontier' | 'minId'>): Buffer {
  const frontier = frontierBytes(r.frontier);
  const out = Buffer.allocUnsafe(24 + frontier.length + 16);
  out.writeBigInt64BE(BigInt(r.first), 0);
  out.writeBigInt64BE(BigInt(r.last), 8);
  out.writeInt32BE(r.n, 16);
  out.writeInt32BE(frontier.length, 20);
  frontier.copy(out, 24);
  Buffer.from(r.minId.replace(/-/g, ''), 'hex').copy(out, 24 + frontier.length);
  return out;
}

/** A group row in binary COPY form (9 fields): the head of `blocks` (consecutive blocks of one term) and their heads. */
function encodeGroup(entity: Buffer, term: string, blocks: readonly BlockRow[]): Buffer {
  const t = Buffer.from(term, 'utf8');
  const tfs: number[] = [];
  const lens: number[] = [];
  let minId = blocks[0]!.minId;
  let n = 0;
  for (const b of blocks) {
    for (let i = 0; i < b.frontier.length; i += 2) {
      tfs.push(b.frontier[i]!);
      lens.push(b.frontier[i + 1]!);
    }
    if (b.minId < minId) minId = b.minId;
    n += b.n;
  }
  const frontier = frontierBytes(frontierOf(tfs, lens));
  const heads = Buffer.concat(blocks.map(headBytes));
  const out = Buffer.allocUnsafe(2 + (4 + entity.length) + (4 + t.length) + 12 * 2 + 8 * 2 + (4 + frontier.length) + 20 + (4 + heads.length));
  let o = out.writeInt16BE(9, 0);
  o = out.writeInt32BE(entity.length, o);
  o += entity.copy(out, o);
  o = out.writeInt32BE(t.length, o);
  o += t.copy(out, o);
  o = out.writeInt32BE(8, o);
  o = out.writeBigInt64BE(BigInt(blocks[0]!.first), o);
  o = out.writeInt32BE(8, o);
  o = out.writeBigInt64BE(BigInt(Math.max(...blocks.map((b) => b.last))), o);
  o = out.writeInt32BE(4, o);
  o = out.writeInt32BE(blocks.length, o);
  o = out.writeInt32BE(4, o);
  o = out.writeInt32BE(n, o);
  o = out.writeInt32BE(frontier.length, o);
  o += frontier.copy(out, o);
  o = out.writeInt32BE(16, o);
  o += Buffer.from(minId.replace(/-/g, ''), 'hex').copy(out, o);
  o = out.writeInt32BE(heads.length, o);
  heads.copy(out, o);
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
 * Writes blocks of postings under `key`, with their groups: per term, its
 * postings (doc_no, tf, doc_len, record id) in doc_no order, cut into blocks
 * of up to BLOCK_POSTINGS, GROUP_BLOCKS blocks a group. `terms` is walked
 * twice, groups first, each pass one binary COPY encoded as the stream asks
 * for it, so neither a batch's bodies nor its groups are ever all in memory
 * at once (a batch of ever-new terms has a group per term). The blocks
 * table's trigger adds the document frequencies.
 */
export async function writeBlocks(client: pg.ClientBase, key: string, terms: () => Iterable<readonly [string, Iterable<readonly [number, number, number, string]>]>): Promise<void> {
  const entity = Buffer.from(key, 'utf8');
  function* chunks(rowsOf: (term: string, blocks: Iterable<BlockRow>) => Iterable<Buffer>): Generator<Buffer> {
    let parts: Buffer[] = [SIGNATURE, Buffer.alloc(8)];
    let size = 0;
    for (const [term, postings] of terms()) {
      for (const b of rowsOf(term, blocksOf(term, postings))) {
        parts.push(b);
        size += b.length;
        if (size > 1 << 18) {
          yield Buffer.concat(parts);
          parts = [];
          size = 0;
        }
      }
    }
    parts.push(Buffer.from([0xff, 0xff]));
    yield Buffer.concat(parts);
  }
  function* groupRows(term: string, blocks: Iterable<BlockRow>): Generator<Buffer> {
    let group: BlockRow[] = [];
    for (const row of blocks) {
      group.push({ ...row, body: EMPTY });
      if (group.length === GROUP_BLOCKS) {
        yield encodeGroup(entity, term, group);
        group = [];
      }
    }
    if (group.length) yield encodeGroup(entity, term, group);
  }
  function* blockRows(_term: string, blocks: Iterable<BlockRow>): Generator<Buffer> {
    for (const row of blocks) yield encodeRow(entity, row);
  }
  const copy = (sql: string, rows: typeof groupRows) => pipeline(Readable.from(chunks(rows)), client.query(copyStreams.from(sql)));
  await copy('COPY kdb_postings_groups (entity, term, first_doc, last_doc, blocks, n, frontier, min_id, heads) FROM STDIN (FORMAT binary)', groupRows);
  await copy('COPY kdb_postings_blocks (entity, term, first_doc, last_doc, n, frontier, min_id, body) FROM STDIN (FORMAT binary)', blockRows);
}
const EMPTY = Buffer.alloc(0);

/** A block's metadata, as search reads it (from its group's heads: no body). */
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

/** A group's head (sql/000019): the span, postings, frontier and least id of up to GROUP_BLOCKS blocks of one term. */
export interface GroupHead extends BlockHead {
  /** Blocks in the group: a group of one is that block's head. */
  blocks: number;
}

/**
 * One row per (key, term): its groups' heads packed into one bytea, in
 * first_doc order, each as first_doc, last_doc (int8), blocks, n, the
 * frontier's byte length (int4), the frontier, min_id (16 bytes), from the
 * primary key's INCLUDE columns. Parsing thousands of rows of arrays and
 * uuids cost the client ten times what the index scan did.
 */
const GROUPS_SQL = `
  SELECT entity, term,
         string_agg(int8send(first_doc) || int8send(last_doc) || int4send(blocks) || int4send(n) || int4send(length(frontier)) || frontier || uuid_send(min_id), ''::bytea ORDER BY first_doc) AS packed
    FROM kdb_postings_groups WHERE entity = ANY($1::text[]) AND term = ANY($2::text[])
   GROUP BY entity, term`;

const hex = (b: Buffer, at: number) => {
  const h = b.toString('hex', at, at + 16);
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
};

function frontierAt(p: Buffer, at: number, bytes: number): Int32Array {
  const out = new Int32Array(bytes / 4);
  for (let i = 0; i < out.length; i++) out[i] = p.readInt32BE(at + 4 * i);
  return out;
}

/** The heads of every group of `terms` under `keys`. */
export async function readGroupHeads(db: pg.Pool | pg.ClientBase, keys: readonly string[], terms: readonly string[]): Promise<{ groups: GroupHead[]; query: { text: string; values: unknown[] } }> {
  const query = { text: GROUPS_SQL, values: [keys, terms] as unknown[] };
  const { rows } = await db.query<{ entity: string; term: string; packed: Buffer }>({ name: 'kdb_block_groups', ...query });
  const groups: GroupHead[] = [];
  for (const { entity, term, packed: p } of rows) {
    for (let o = 0; o < p.length; ) {
      const fl = p.readInt32BE(o + 24);
      groups.push({
        entity,
        term,
        first: Number(p.readBigInt64BE(o)),
        last: Number(p.readBigInt64BE(o + 8)),
        blocks: p.readInt32BE(o + 16),
        n: p.readInt32BE(o + 20),
        frontier: frontierAt(p, o + 28, fl),
        min_id: hex(p, o + 28 + fl),
      });
      o += 28 + fl + 16;
    }
  }
  return { groups, query };
}

const GROUP_BLOCKS_SQL = `
  SELECT g.entity, g.term, g.first_doc::float8 AS first, g.heads
    FROM unnest($1::text[], $2::text[], $3::bigint[]) AS k(entity, term, first_doc)
    JOIN kdb_postings_groups g ON g.entity = k.entity AND g.term = k.term AND g.first_doc = k.first_doc`;

/** The block heads of the given groups, by blockKey of the group. A group gone meanwhile (an analyzer's old generation dropped) is absent. */
export async function readGroupBlocks(
  db: pg.Pool | pg.ClientBase,
  groups: readonly { entity: string; term: string; first: number }[],
): Promise<{ blocks: Map<string, BlockHead[]>; query: { text: string; values: unknown[] } }> {
  const query = { text: GROUP_BLOCKS_SQL, values: [groups.map((g) => g.entity), groups.map((g) => g.term), groups.map((g) => g.first)] as unknown[] };
  const { rows } = await db.query<{ entity: string; term: string; first: number; heads: Buffer }>({ name: 'kdb_block_group_heads', ...query });
  const blocks = new Map<string, BlockHead[]>();
  for (const { entity, term, first, heads: p } of rows) {
    const out: BlockHead[] = [];
    for (let o = 0; o < p.length; ) {
      const fl = p.readInt32BE(o + 20);
      out.push({ entity, term, first: Number(p.readBigInt64BE(o)), last: Number(p.readBigInt64BE(o + 8)), n: p.readInt32BE(o + 16), frontier: frontierAt(p, o + 24, fl), min_id: hex(p, o + 24 + fl) });
      o += 24 + fl + 16;
    }
    blocks.set(blockKey({ entity, term, first }), out);
  }
  return { blocks, query };
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
  // Groups first: a group whose blocks are gone reads as empty, a block without its group is never found.
  const groups = await db.query('DELETE FROM kdb_postings_groups WHERE ctid = ANY(ARRAY(SELECT ctid FROM kdb_postings_groups WHERE entity = $1 LIMIT $2))', [key, limit]);
  if (groups.rowCount) return groups.rowCount;
  const { rowCount } = await db.query('DELETE FROM kdb_postings_blocks WHERE ctid = ANY(ARRAY(SELECT ctid FROM kdb_postings_blocks WHERE entity = $1 LIMIT $2))', [key, limit]);
  return rowCount ?? 0;
}

/** Reserves `n` document numbers (increasing within the transaction's session). */
export async function reserveDocNumbers(client: pg.ClientBase, n: number): Promise<number[]> {
  const { rows } = await client.query<{ nos: string[] }>({ name: 'kdb_doc_numbers', text: "SELECT array_agg(nextval('kdb_doc_seq') ORDER BY i)::text[] AS nos FROM generate_series(1, $1::int) AS i", values: [n] });
  return (rows[0]?.nos ?? []).map(Number).sort((a, b) => a - b);
}
