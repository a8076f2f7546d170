import { pipeline } from 'node:stream/promises';
import { Readable } from 'node:stream';
import type pg from 'pg';
import copyStreams from 'pg-copy-streams';
import { CopyBinaryWriter, putInt64, putUuid } from './CopyBinaryWriter.js';

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

/**
 * One term's postings as writeBlocks asks for them: the first `n` entries of
 * parallel arrays, in doc_no order. The arrays are the caller's and may be
 * refilled for the next term once this one is written.
 */
export interface TermPostings {
  term: string;
  n: number;
  docNo: Float64Array;
  tf: Int32Array;
  len: Int32Array;
  /** Each posting's record id. */
  id: readonly string[];
}

/** The end of the block that starts at posting `from`: BLOCK_POSTINGS postings at most, their doc numbers within MAX_OFFSET of its first. */
function blockEnd(p: TermPostings, from: number): number {
  const first = p.docNo[from]!;
  let e = from + 1;
  for (; e < p.n; e++) {
    if (p.docNo[e]! < p.docNo[e - 1]!) throw new Error(`postings of "${p.term}" out of doc_no order (${p.docNo[e]} after ${p.docNo[e - 1]})`);
    if (e - from === BLOCK_POSTINGS || p.docNo[e]! - first > MAX_OFFSET) break;
  }
  return e;
}

const order: number[] = [];

/**
 * Writes at `out[at…]` the (tf, length) frontier of the pairs (tf[i], len[i])
 * for i in [from, to): per tf the least length, tf descending, kept only
 * where no higher tf has a length as small. Returns the ints written.
 */
function frontierInto(tf: ArrayLike<number>, len: ArrayLike<number>, from: number, to: number, out: Int32Array, at: number): number {
  if (to - from === 1) {
    out[at] = tf[from]!;
    out[at + 1] = len[from]!;
    return 2;
  }
  order.length = 0;
  for (let i = from; i < to; i++) order.push(i);
  order.sort((a, b) => tf[b]! - tf[a]! || len[a]! - len[b]!);
  let best = Infinity;
  let o = at;
  for (const i of order) {
    if (len[i]! < best) {
      out[o++] = tf[i]!;
      out[o++] = len[i]!;
      best = len[i]!;
    }
  }
  return o - at;
}

function leastId(ids: readonly string[], from: number, to: number): string {
  let least = ids[from]!;
  for (let i = from + 1; i < to; i++) if (ids[i]! < least) least = ids[i]!;
  return least;
}

/** Bytes of a block's head as search reads it (the packing of a group's heads): first, last (int8), n, the frontier's bytes (int4), the frontier, min_id. */
const headBytes = (frontierInts: number) => 24 + 4 * frontierInts + 16;

/** Scratch of one group's blocks: where each starts and ends, its frontier's place in `frontiers`, its least id. */
const group = {
  start: new Int32Array(GROUP_BLOCKS),
  end: new Int32Array(GROUP_BLOCKS),
  frontierAt: new Int32Array(GROUP_BLOCKS),
  frontierInts: new Int32Array(GROUP_BLOCKS),
  minId: new Array<string>(GROUP_BLOCKS),
  frontiers: new Int32Array(GROUP_BLOCKS * BLOCK_POSTINGS * 2),
  tfs: new Int32Array(GROUP_BLOCKS * BLOCK_POSTINGS),
  lens: new Int32Array(GROUP_BLOCKS * BLOCK_POSTINGS),
  frontier: new Int32Array(GROUP_BLOCKS * BLOCK_POSTINGS * 2),
};

/** One term's group rows (9 fields): per GROUP_BLOCKS consecutive blocks, their span, count, postings, frontier, least id and heads. */
function writeGroups(w: CopyBinaryWriter, entityBytes: number, key: string, p: TermPostings): void {
  const g = group;
  const termBytes = CopyBinaryWriter.textBytes(p.term);
  for (let s = 0; s < p.n; ) {
    let k = 0;
    let ints = 0;
    let heads = 0;
    for (; k < GROUP_BLOCKS && s < p.n; k++) {
      const e = blockEnd(p, s);
      g.start[k] = s;
      g.end[k] = e;
      g.frontierAt[k] = ints;
      g.frontierInts[k] = frontierInto(p.tf, p.len, s, e, g.frontiers, ints);
      g.minId[k] = leastId(p.id, s, e);
      heads += headBytes(g.frontierInts[k]!);
      ints += g.frontierInts[k]!;
      s = e;
    }
    for (let i = 0; i < ints / 2; i++) {
      g.tfs[i] = g.frontiers[2 * i]!;
      g.lens[i] = g.frontiers[2 * i + 1]!;
    }
    const fi = frontierInto(g.tfs, g.lens, 0, ints / 2, g.frontier, 0);
    const first = g.start[0]!;
    const end = g.end[k - 1]!;
    w.row(9, entityBytes + termBytes + 12 * 2 + 8 * 2 + 4 + 4 * fi + 20 + 4 + heads)
      .text(key)
      .text(p.term)
      .int8(p.docNo[first]!)
      .int8(p.docNo[end - 1]!)
      .int4(k)
      .int4(end - first)
      .int4s(g.frontier, 0, fi)
      .uuid(leastId(g.minId, 0, k));
    const { buf, at } = w.field(heads);
    let o = at;
    for (let b = 0; b < k; b++) {
      o = putInt64(buf, p.docNo[g.start[b]!]!, o);
      o = putInt64(buf, p.docNo[g.end[b]! - 1]!, o);
      o = buf.writeInt32BE(g.end[b]! - g.start[b]!, o);
      o = buf.writeInt32BE(4 * g.frontierInts[b]!, o);
      for (let i = g.frontierAt[b]!; i < g.frontierAt[b]! + g.frontierInts[b]!; i++) o = buf.writeInt32BE(g.frontiers[i]!, o);
      o = putUuid(buf, g.minId[b]!, o);
    }
  }
}

/** One term's block rows (8 fields): span, postings, frontier, least id and body (per posting doc_no − first_doc, tf, doc_len). */
function writeBlockRows(w: CopyBinaryWriter, entityBytes: number, key: string, p: TermPostings): void {
  const g = group;
  const termBytes = CopyBinaryWriter.textBytes(p.term);
  for (let s = 0; s < p.n; ) {
    const e = blockEnd(p, s);
    const fi = frontierInto(p.tf, p.len, s, e, g.frontier, 0);
    const first = p.docNo[s]!;
    w.row(8, entityBytes + termBytes + 12 * 2 + 8 + 4 + 4 * fi + 20 + 4 + (e - s) * POSTING_BYTES)
      .text(key)
      .text(p.term)
      .int8(first)
      .int8(p.docNo[e - 1]!)
      .int4(e - s)
      .int4s(g.frontier, 0, fi)
      .uuid(leastId(p.id, s, e));
    const { buf, at } = w.field((e - s) * POSTING_BYTES);
    for (let i = s, o = at; i < e; i++) {
      o = buf.writeInt32BE(p.docNo[i]! - first, o);
      o = buf.writeInt32BE(p.tf[i]!, o);
      o = buf.writeInt32BE(p.len[i]!, o);
    }
    s = e;
  }
}

/**
 * Writes blocks of postings under `key`, with their groups: per term, its
 * postings in doc_no order, cut into blocks of up to BLOCK_POSTINGS,
 * GROUP_BLOCKS blocks a group. `terms` is walked twice, groups first, each
 * pass one binary COPY encoded as the stream asks for it, so neither a
 * batch's bodies nor its groups are ever all in memory at once (a batch of
 * ever-new terms has a group per term). The blocks table's trigger adds the
 * document frequencies.
 */
export async function writeBlocks(client: pg.ClientBase, key: string, terms: () => Iterable<TermPostings>): Promise<void> {
  const entityBytes = CopyBinaryWriter.textBytes(key);
  function* chunks(write: typeof writeGroups): Generator<Buffer> {
    const w = new CopyBinaryWriter();
    for (const p of terms()) {
      write(w, entityBytes, key, p);
      yield* w.take();
    }
    yield* w.end();
  }
  const copy = (sql: string, write: typeof writeGroups) => pipeline(Readable.from(chunks(write)), client.query(copyStreams.from(sql)));
  await copy('COPY kdb_postings_groups (entity, term, first_doc, last_doc, blocks, n, frontier, min_id, heads) FROM STDIN (FORMAT binary)', writeGroups);
  await copy('COPY kdb_postings_blocks (entity, term, first_doc, last_doc, n, frontier, min_id, body) FROM STDIN (FORMAT binary)', writeBlockRows);
}

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
 * uuids cost the client ten times what the index scan did. `keys` and
 * `terms` are the statement's placeholders of the two arrays: the keyword
 * retriever's first statement reads the groups with the statistics
 * (readStatsAndHeads), blockTopK alone reads them by GROUPS_SQL.
 */
export const groupsOf = (keys: string, terms: string) => `
  SELECT entity, term,
         string_agg(int8send(first_doc) || int8send(last_doc) || int4send(blocks) || int4send(n) || int4send(length(frontier)) || frontier || uuid_send(min_id), ''::bytea ORDER BY first_doc) AS packed
    FROM kdb_postings_groups WHERE entity = ANY(${keys}::text[]) AND term = ANY(${terms}::text[])
   GROUP BY entity, term`;
const GROUPS_SQL = groupsOf('$1', '$2');

const hex = (b: Buffer, at: number) => {
  const h = b.toString('hex', at, at + 16);
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
};

function frontierAt(p: Buffer, at: number, bytes: number): Int32Array {
  const out = new Int32Array(bytes / 4);
  for (let i = 0; i < out.length; i++) out[i] = p.readInt32BE(at + 4 * i);
  return out;
}

/** The group heads of rows of groupsOf: (entity, term, packed). */
export function unpackGroups(rows: readonly { entity: string; term: string; packed: Buffer }[]): GroupHead[] {
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
  return groups;
}

/** The heads of every group of `terms` under `keys`. */
export async function readGroupHeads(db: pg.Pool | pg.ClientBase, keys: readonly string[], terms: readonly string[]): Promise<{ groups: GroupHead[]; query: { text: string; values: unknown[] } }> {
  const query = { text: GROUPS_SQL, values: [keys, terms] as unknown[] };
  const { rows } = await db.query<{ entity: string; term: string; packed: Buffer }>({ name: 'kdb_block_groups', ...query });
  return { groups: unpackGroups(rows), query };
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
