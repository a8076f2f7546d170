import pg from 'pg';
import pino from 'pino';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  createEntity,
  createPool,
  DEFAULT_EF_SEARCH,
  EF_BASE_ROWS,
  efSearchFor,
  HashProvider,
  listVectorSegments,
  patchRecord,
  SearchEngine,
  SegmentManager,
  type Entity,
  vectorSql,
  vectorIndexStatus,
} from '@kameleondb/core';
import { embedBatch } from '../src/batching/embedBatch.js';
import { planSegmentWork, type SegmentPolicy } from '../src/segments/planSegmentWork.js';
import { hnswRowsInMemory, memoryBytes } from '../src/segments/hnswRowsInMemory.js';
import { entityRowsIn, segmentsFor, type VectorSegment } from '../src/segments/vectorSegmentStore.js';
import { scansExactly } from '../src/search/segmentScan.js';
import { ingestTestRecords } from '../../../test-support/ingestTestRecords.js';
import { createTestDatabase, type TestDatabase } from '../../../test-support/testDatabase.js';

const seg = (lo: number, hi: number, rows = hi - lo + 1): VectorSegment => ({
  indexName: `kdb_vseg_1_${lo}_${hi}`,
  spaceId: 1,
  lo: String(lo),
  hi: String(hi),
  rows,
  kind: 'seal',
  buildMs: 0,
  createdAt: '',
  indexValid: true,
  entityRows: null,
});

describe('segments for a search of some entities', () => {
  it('skips those holding none of their rows, reads exactly those holding few, and counts own keys only (an entity may be named constructor)', () => {
    const big = { ...seg(1, 100_000), entityRows: { docs: 99_000, notes: 1_000 } };
    const mixed = { ...seg(100_001, 140_000), entityRows: { docs: 28_000, notes: 12_000 } };
    const unknown = { ...seg(140_001, 150_000), entityRows: null };
    expect(segmentsFor([big, mixed, unknown], ['constructor'])).toEqual([unknown]);
    expect(entityRowsIn(big, ['constructor', 'notes'])).toBe(1_000);
    expect(entityRowsIn(unknown, ['docs'])).toBeNull();
    // At most EXACT_SCAN_ROWS of theirs, or a quarter of the segment and at most EXACT_SCAN_MAX_ROWS.
    expect([big, mixed, unknown].map((x) => scansExactly(x, ['notes']))).toEqual([true, false, false]);
    expect(scansExactly({ ...mixed, rows: 90_000, entityRows: { docs: 70_000, notes: 20_000 } }, ['notes'])).toBe(true);
    expect(scansExactly({ ...mixed, entityRows: { docs: 70_000, notes: 20_000 } }, ['notes'], 0)).toBe(false);
    expect(scansExactly(big, ['docs'])).toBe(false);
  });
});

describe('planSegmentWork', () => {
  const policy: SegmentPolicy = { sealRows: 100, maxHotRows: 1000, mergeFactor: 4, maxSegments: 6 };
  const writing = { idle: false, busy: false };
  const quiet = { idle: true, busy: false };
  const backlog = { idle: false, busy: true };

  it('seals the hot rows when full, or when writes went quiet; during an ingest backlog only at maxHotRows', () => {
    expect(planSegmentWork([seg(1, 100)], { rows: 99, hi: '199' }, policy, writing)).toBeNull();
    expect(planSegmentWork([seg(1, 100)], { rows: 100, hi: '230' }, policy, writing)).toEqual({ kind: 'seal', lo: '101', hi: '230', rows: 100 });
    expect(planSegmentWork([seg(1, 100)], { rows: 999, hi: '1099' }, policy, backlog)).toBeNull();
    expect(planSegmentWork([seg(1, 100)], { rows: 1000, hi: '1100' }, policy, backlog)).toMatchObject({ kind: 'seal', rows: 1000 });
    expect(planSegmentWork([], { rows: 3, hi: '3' }, policy, quiet)).toEqual({ kind: 'seal', lo: '1', hi: '3', rows: 3 });
    expect(planSegmentWork([], { rows: 0, hi: null }, policy, quiet)).toBeNull();
  });

  it('merges the smallest run of adjacent same-size segments, while idle or when there are too many', () => {
    const segs = [seg(1, 1600), seg(1601, 2000), seg(2001, 2100), seg(2101, 2200), seg(2201, 2300), seg(2301, 2400)];
    expect(planSegmentWork(segs, { rows: 0, hi: null }, policy, writing)).toBeNull();
    expect(planSegmentWork(segs, { rows: 0, hi: null }, policy, { idle: true, busy: true })).toBeNull();
    const merge = planSegmentWork(segs, { rows: 0, hi: null }, policy, quiet);
    expect(merge).toMatchObject({ kind: 'merge', lo: '2001', hi: '2400', rows: 400 });
    const many = [...segs, seg(2401, 2410)];
    expect(planSegmentWork(many, { rows: 5, hi: '2415' }, policy, backlog)).toMatchObject({ kind: 'merge', lo: '2001', hi: '2400' });
    // No run of four in one size class: when quiet, the newest fold into older ones not over 4× their size.
    const three = [seg(1, 1600), seg(1601, 2000), seg(2001, 2100)];
    expect(planSegmentWork(three, { rows: 0, hi: null }, policy, writing)).toBeNull();
    expect(planSegmentWork(three, { rows: 0, hi: null }, policy, quiet)).toMatchObject({ kind: 'merge', lo: '1', hi: '2100', rows: 2100 });
    expect(planSegmentWork([seg(1, 5000), seg(5001, 5100)], { rows: 0, hi: null }, policy, quiet)).toBeNull(); // 5000 > 4 × 100
    expect(planSegmentWork([seg(1, 5000), seg(5001, 5100), seg(5101, 6500)], { rows: 0, hi: null }, policy, quiet)).toMatchObject({ lo: '1', hi: '6500' });
  });

  it('never merges past maxMergeRows (a graph bigger than the build memory spills to disk): same-size runs and quiet folds stop there', () => {
    const capped = { ...policy, maxMergeRows: 350 };
    const four = [seg(1, 100), seg(101, 200), seg(201, 300), seg(301, 400)];
    expect(planSegmentWork(four, { rows: 0, hi: null }, policy, quiet)).toMatchObject({ kind: 'merge', lo: '1', hi: '400', rows: 400 });
    // 400 rows would pass the cap; three of them fold (quiet) into one of 300, the fourth stays.
    expect(planSegmentWork(four, { rows: 0, hi: null }, capped, quiet)).toMatchObject({ kind: 'merge', lo: '101', hi: '400', rows: 300 });
    // Over maxSegments while an ingest waits: only runs under the cap merge, and none is left.
    const full = [seg(1, 350), seg(351, 700), seg(701, 1050), seg(1051, 1400), seg(1401, 1750), seg(1751, 2100), seg(2101, 2450)];
    expect(planSegmentWork(full, { rows: 0, hi: null }, capped, backlog)).toBeNull();
    expect(planSegmentWork(full, { rows: 0, hi: null }, capped, quiet)).toBeNull();
    expect(planSegmentWork(full, { rows: 0, hi: null }, policy, quiet)).toMatchObject({ kind: 'merge' });
  });

  it('sizes the merge cap from the build memory, the dimensions and m; a bad value is refused naming it', () => {
    expect(memoryBytes('64MB')).toBe(64 * 1024 ** 2);
    expect(memoryBytes('65536kB')).toBe(64 * 1024 ** 2);
    // 64MB held 26,090 rows of 384 dimensions at m = 24 before pgvector's graph spilled to disk.
    const measured = hnswRowsInMemory('64MB', 384, 24);
    expect(measured).toBeLessThan(26_090);
    expect(measured).toBeGreaterThan(0.85 * 26_090);
    expect(Math.abs(hnswRowsInMemory('1GB', 384, 24) - 16 * measured)).toBeLessThanOrEqual(16);
    expect(hnswRowsInMemory('1GB', 1536, 24)).toBeLessThan(hnswRowsInMemory('1GB', 384, 24) / 2.5);
    expect(() => memoryBytes('1 TB')).toThrow(/"1 TB"/);
    expect(() => hnswRowsInMemory('1GB', 0, 24)).toThrow(/dimensions .* got 0/);
    expect(() => hnswRowsInMemory('1GB', 384, 1)).toThrow(/m must be .* got 1/);
  });
});

describe('vector segments', () => {
  let db: TestDatabase;
  let entity: Entity;
  let engine: SearchEngine;
  let searchPool: pg.Pool;
  const provider = new HashProvider();
  const logger = pino({ level: 'silent' });
  const managers: SegmentManager[] = [];
  const manager = (opts: Partial<SegmentPolicy> & { idleMs?: number; busy?: () => Promise<boolean> } = {}) => {
    const m = new SegmentManager({ connectionString: db.url, logger, sealRows: 300, mergeFactor: 2, idleMs: 0, ...opts });
    managers.push(m);
    return m;
  };
  const texts: string[] = [];
  const ids: string[] = [];
  const write = async (n: number) => {
    const batch = Array.from({ length: n }, (_, i) => ({ title: `doc ${texts.length + i} ${['alpha', 'beta', 'gamma', 'delta'][i % 4]} topic${(texts.length + i) % 37}` }));
    const newIds = await ingestTestRecords(db.pool, entity, batch);
    await embedBatch({ pool: db.pool, provider, ids: newIds });
    texts.push(...batch.map((b) => b.title));
    ids.push(...newIds);
    return newIds;
  };
  /** Every sampled row is its own nearest neighbour: searching its text returns it first. */
  const selfFound = async (sample: number[]) => {
    let found = 0;
    for (const i of sample) {
      const res = await engine.search({ q: texts[i]!, entities: ['docs'], mode: 'vector', limit: 1 });
      if (res.results[0]?.id === ids[i]) found++;
    }
    return found;
  };
  const indexes = async () =>
    (await db.pool.query<{ indexname: string; valid: boolean }>(
      `SELECT c.relname AS indexname, i.indisvalid AS valid FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
        WHERE c.relname LIKE 'kdb_vseg_%' ORDER BY 1`,
    )).rows;

  const planWithoutExactPaths = async (q: string) => {
    const c = await db.pool.connect();
    try {
      await c.query('BEGIN');
      await c.query('SET LOCAL enable_seqscan = off');
      await c.query('SET LOCAL enable_bitmapscan = off');
      await c.query('SET LOCAL enable_sort = off');
      const v = `[${Array.from(provider.embedOne(q)).join(',')}]`;
      const sql = vectorSql(await listVectorSegments(c, 1), false, 3, 1);
      const { rows } = await c.query<{ 'QUERY PLAN': string }>(`EXPLAIN ${sql}`, [v, ['docs']]);
      await c.query('ROLLBACK');
      return rows.map((r) => r['QUERY PLAN']).join('\n');
    } finally {
      c.release();
    }
  };

  beforeAll(async () => {
    db = await createTestDatabase();
    entity = await createEntity(db.pool, { name: 'docs', fields: { title: 'text' }, embedFields: ['title'] });
    // ef_search over the segment sizes: the graph search is exhaustive here, so a miss
    // can only be a row missing from the index, not the approximation (hash vectors of
    // texts without shared words are orthogonal: nothing leads a graph search to them).
    searchPool = createPool({ connectionString: db.url, sessionSql: SearchEngine.sessionSql(1000) });
    // exactScanRows 0: these tests are about the graphs; small segments would otherwise be read exactly.
    engine = new SearchEngine({ pool: searchPool, provider, segmentCacheMs: 0, exactScanRows: 0 });
  });
  afterEach(async () => {
    for (const m of managers.splice(0)) await m.close();
  });
  afterAll(async () => {
    await searchPool.end();
    await db.close();
  });

  it('refuses HNSW settings pgvector would reject, naming the value', () => {
    expect(() => new SegmentManager({ connectionString: db.url, logger, hnswM: 1 })).toThrow(/m must be an integer from 2 to 100, got 1/);
    expect(() => new SegmentManager({ connectionString: db.url, logger, hnswM: 32, hnswEfConstruction: 40 })).toThrow(/at least 2 × m \(64\), got 40/);
  });

  it('finds hot vectors by exact scan, then through the sealed segment HNSW index; one manager works at a time', async () => {
    await write(250);
    const sample = [0, 17, 101, 249];
    expect(await selfFound(sample)).toBe(4);
    const a = manager({ idleMs: 60_000 });
    const b = manager({ idleMs: 60_000 });
    expect(await a.step()).toMatchObject({ kind: 'nothing', hotRows: 250 }); // below sealRows and not idle
    expect(await b.step()).toEqual({ kind: 'standby' });
    await write(100);
    expect(await a.step()).toMatchObject({ kind: 'seal', lo: '1', hi: '350', rows: 350 });
    expect(await listVectorSegments(db.pool, 1)).toMatchObject([{ lo: '1', hi: '350', rows: 350, kind: 'seal' }]);
    expect(await vectorIndexStatus(db.pool, 1)).toMatchObject({ segments: [{ lo: '1', hi: '350', rows: 350 }], hotRows: 0, building: false });
    const res = await engine.search({ q: texts[5]!, entities: ['docs'], mode: 'vector', limit: 3, explain: true });
    expect(res.explain!.vectorSegments).toEqual({
      sealed: [{ lo: '1', hi: '350', rows: 350, indexValid: true, scan: 'hnsw', m: 24, efConstruction: 192, scanMs: expect.any(Number) }],
      skipped: 0,
      hotAbove: '350',
      hotScanMs: expect.any(Number),
    });
    // The segment's range matches its partial HNSW index (at 350 rows the planner may prefer
    // an exact sort, so the other paths are switched off to show the index is usable).
    expect(await planWithoutExactPaths(texts[5]!)).toMatch(/Index Scan using kdb_vseg_1_1_350 on kdb_vectors_1/);
    const def = await db.pool.query<{ d: string }>(`SELECT pg_get_indexdef('kdb_vseg_1_1_350'::regclass) AS d`);
    expect(def.rows[0]!.d).toMatch(/USING hnsw \(embedding vector_cosine_ops\) WITH \(m='?24'?, ef_construction='?192'?\) WHERE \(\(vector_seq >= 1\) AND \(vector_seq <= 350\)\)/);
    expect(await selfFound([...sample, 300, 349])).toBe(6);
    // A segment whose index is not valid on the server searched (a replica that has not
    // replayed it, one dropped by a merge since): its range is scanned exactly, and explain says so.
    // New sessions (a pool of their own) plan with the changed flag.
    await db.pool.query(`UPDATE pg_index SET indisvalid = false WHERE indexrelid = 'kdb_vseg_1_1_350'::regclass`);
    const invalidPool = createPool({ connectionString: db.url, sessionSql: SearchEngine.sessionSql(1000) });
    try {
      const invalidEngine = new SearchEngine({ pool: invalidPool, provider, segmentCacheMs: 0, exactScanRows: 0 });
      for (const i of [...sample, 300, 349]) {
        const r = await invalidEngine.search({ q: texts[i]!, entities: ['docs'], mode: 'vector', limit: 1, explain: true });
        expect(r.results[0]?.id).toBe(ids[i]);
        expect(r.explain!.vectorSegments!.sealed).toEqual([{ lo: '1', hi: '350', rows: 350, indexValid: false, scan: 'hnsw', m: 24, efConstruction: 192, scanMs: expect.any(Number) }]);
        expect(r.explain!.plans.vector).not.toMatch(/kdb_vseg_1_1_350/);
      }
      await invalidEngine.close();
    } finally {
      await db.pool.query(`UPDATE pg_index SET indisvalid = true WHERE indexrelid = 'kdb_vseg_1_1_350'::regclass`);
      await invalidPool.end();
    }
    await a.close();
    // The lock passes to the next manager when the first one's connection goes.
    expect(await b.step()).toMatchObject({ kind: 'nothing', hotRows: 0 });
    await b.close();
  });

  it('a re-embedded row leaves its sealed segment: found with its new vector, not its old one', async () => {
    const [id] = ids;
    await patchRecord(db.pool, entity, id!, { title: 'zebra crossing unique words here' });
    await embedBatch({ pool: db.pool, provider, ids: [id!] });
    const fresh = await engine.search({ q: 'zebra crossing unique words here', entities: ['docs'], mode: 'vector', limit: 1 });
    expect(fresh.results[0]!.id).toBe(id);
    const old = await engine.search({ q: texts[0]!, entities: ['docs'], mode: 'vector', limit: 5 });
    expect(old.results.map((r) => r.id)).not.toContain(id);
    texts[0] = 'zebra crossing unique words here';
  });

  it('merges neighbouring segments into one index and drops the old indexes', async () => {
    const m = manager();
    await write(320);
    expect(await m.step()).toMatchObject({ kind: 'seal', lo: '351' });
    expect((await listVectorSegments(db.pool, 1)).length).toBe(2);
    const merged = await m.step();
    expect(merged).toMatchObject({ kind: 'merge', lo: '1' });
    const segments = await listVectorSegments(db.pool, 1);
    expect(segments).toHaveLength(1);
    expect(segments[0]).toMatchObject({ lo: '1', kind: 'merge', rows: 670, entityRows: { docs: 670 } });
    expect(await indexes()).toEqual([{ indexname: segments[0]!.indexName, valid: true }]);
    expect(await selfFound([0, 1, 200, 349, 400, 669])).toBe(6);
    const { rows } = await db.pool.query<{ n: number }>(`SELECT count(*)::int AS n FROM kdb_vectors_1 WHERE embedding IS NOT NULL`);
    const all = await engine.search({ q: 'alpha', entities: ['docs'], mode: 'vector', limit: 100 });
    expect(all.count).toBe(100);
    expect(rows[0]!.n).toBe(670);
    await m.close();
  });

  it('a build killed half-way leaves search whole; the next manager drops the leftover and builds again', async () => {
    await write(3000);
    const m = manager({ sealRows: 1000 });
    const killer = new pg.Client({ connectionString: db.url });
    await killer.connect();
    try {
      const building = m.step().catch((err: Error) => err);
      // Wait until Postgres reports the CREATE INDEX CONCURRENTLY under way in this test's
      // database (other test files build segments in theirs), then kill that backend.
      let pid: number | undefined;
      for (let i = 0; i < 1000 && !pid; i++) {
        const { rows } = await killer.query<{ pid: number }>(`SELECT pid FROM pg_stat_progress_create_index WHERE datname = current_database() AND phase LIKE 'building index%'`);
        pid = rows[0]?.pid;
        if (!pid) await new Promise((r) => setTimeout(r, 5));
      }
      expect(pid).toBeDefined();
      await killer.query('SELECT pg_terminate_backend($1)', [pid]);
      expect(await building).toBeInstanceOf(Error);
    } finally {
      await killer.end();
    }
    await m.close();
    // The catalog did not change: the 3000 new rows are still hot, found exactly.
    expect((await listVectorSegments(db.pool, 1)).map((s) => s.hi)).toEqual(['671']);
    expect(await indexes()).toContainEqual({ indexname: 'kdb_vseg_1_672_3671', valid: false });
    expect(await selfFound([700, 1500, 3669])).toBe(3);
    const next = manager({ sealRows: 1000 });
    expect(await next.step()).toMatchObject({ kind: 'seal', lo: '672', hi: '3671', rows: 3000 });
    expect((await indexes()).every((i) => i.valid)).toBe(true);
    expect(await selfFound([700, 1500, 3669])).toBe(3);
  });

  it('a filtered vector search over an HNSW segment scans on until limit rows pass the filter', async () => {
    const tickets = await createEntity(db.pool, { name: 'tickets', fields: { title: 'text', status: 'string' }, embedFields: ['title'] });
    const rows = Array.from({ length: 600 }, (_, i) => ({ title: `ticket ${i} about the engine`, status: i % 30 === 0 ? 'open' : 'closed' }));
    const newIds = await ingestTestRecords(db.pool, tickets, rows);
    await embedBatch({ pool: db.pool, provider, ids: newIds });
    expect(await manager({ sealRows: 100 }).step()).toMatchObject({ kind: 'seal', rows: 600 });
    // A small candidate list, and the exact paths off so the segment's HNSW index answers.
    const narrow = createPool({
      connectionString: db.url,
      sessionSql: [...SearchEngine.sessionSql(10), 'SET enable_sort = off', 'SET enable_seqscan = off', 'SET enable_bitmapscan = off'],
    });
    try {
      const search = new SearchEngine({ pool: narrow, provider, segmentCacheMs: 0, exactScanRows: 0 });
      const res = await search.search({ q: 'ticket about the engine', entities: ['tickets'], mode: 'vector', limit: 15, where: { status: 'open' }, explain: true });
      expect(res.explain!.plans.vector).toMatch(/Index Scan using kdb_vseg_1_3672_4271 on kdb_vectors_1/);
      expect(res.results).toHaveLength(15);
      expect(res.results.every((r) => r.data.status === 'open')).toBe(true);
      // Without the iterative scan (the session default, kept for unfiltered searches), the same
      // statement stops after ef_search candidates: fewer than limit rows pass the filter.
      expect((await narrow.query('SHOW hnsw.iterative_scan')).rows[0]['hnsw.iterative_scan']).toBe('off');
      const v = `[${Array.from(provider.embedOne('ticket about the engine')).join(',')}]`;
      const plain = await narrow.query(vectorSql(await listVectorSegments(narrow, 1), true, 15, 1), [v, ['tickets'], JSON.stringify({ status: 'open' })]);
      expect(plain.rows.length).toBeLessThan(15);
    } finally {
      await narrow.end();
    }
  });

  it('an entity-filtered vector search over a segment shared with other entities scans on until limit rows of the entity pass', async () => {
    const gadgets = await createEntity(db.pool, { name: 'gadgets', fields: { title: 'text' }, embedFields: ['title'] });
    const parts = await createEntity(db.pool, { name: 'parts', fields: { title: 'text' }, embedFields: ['title'] });
    const ids = [
      ...(await ingestTestRecords(db.pool, gadgets, Array.from({ length: 20 }, (_, i) => ({ title: `gadget ${i} widget` })))),
      ...(await ingestTestRecords(db.pool, parts, Array.from({ length: 600 }, (_, i) => ({ title: `part ${i} about the pump` })))),
    ];
    await embedBatch({ pool: db.pool, provider, ids });
    // Both entities' vectors in one segment's HNSW graph.
    expect(await manager({ sealRows: 100 }).step()).toMatchObject({ kind: 'seal', rows: 620 });
    const narrow = createPool({
      connectionString: db.url,
      sessionSql: [...SearchEngine.sessionSql(10), 'SET enable_sort = off', 'SET enable_seqscan = off', 'SET enable_bitmapscan = off'],
    });
    try {
      const search = new SearchEngine({ pool: narrow, provider, segmentCacheMs: 0, exactScanRows: 0 });
      // The query is near the parts: the first ef_search candidates of the graph are all parts.
      const res = await search.search({ q: 'part about the pump', entities: ['gadgets'], mode: 'vector', limit: 5, explain: true });
      expect(res.explain!.plans.vector).toMatch(/Index Scan using kdb_vseg_/);
      expect(res.results).toHaveLength(5);
      expect(res.results.every((r) => r.entity === 'gadgets')).toBe(true);
    } finally {
      await narrow.end();
    }
  });

  it('a search of some entities skips the sealed segments holding none of their rows, and reads exactly those holding few; unknown ones go through their graph', async () => {
    // An HNSW scan filtered to entities its graph holds few or none of walks on through the others'
    // rows: a search of a small entity paid that for every large segment of the others.
    const cold = await createEntity(db.pool, { name: 'cold', fields: { title: 'text' }, embedFields: ['title'] });
    const coldIds = await ingestTestRecords(db.pool, cold, Array.from({ length: 30 }, (_, i) => ({ title: `cold storage crate ${i}` })));
    await embedBatch({ pool: db.pool, provider, ids: coldIds });
    const sealed = await manager({ sealRows: 10 }).step();
    expect(sealed).toMatchObject({ kind: 'seal', rows: 30 });
    const catalog = await listVectorSegments(db.pool, 1);
    expect(catalog.length).toBeGreaterThan(1);
    const own = catalog.find((x) => x.lo === (sealed as { lo: string }).lo)!;
    expect(own.entityRows).toEqual({ cold: 30 });
    const others = catalog.filter((x) => x !== own);
    expect(others.every((x) => x.entityRows !== null && !('cold' in x.entityRows))).toBe(true);
    // The rows per entity add up to the segment's rows.
    for (const x of catalog) expect(Object.values(x.entityRows!).reduce((a, b) => a + b, 0)).toBe(x.rows);

    const exact = new SearchEngine({ pool: searchPool, provider, segmentCacheMs: 0 });
    const coldSearch = await exact.search({ q: 'cold storage crate 7', entities: ['cold'], mode: 'vector', limit: 5, explain: true });
    expect(coldSearch.explain!.vectorSegments).toMatchObject({ sealed: [{ lo: own.lo, hi: own.hi, scan: 'exact' }], skipped: others.length, hotAbove: catalog.at(-1)!.hi });
    // Read by (entity, vector_seq), not through the segment's graph.
    expect(coldSearch.explain!.plans.vector).toContain('kdb_vectors_1_entity_seq_idx');
    expect(coldSearch.explain!.plans.vector).not.toContain(own.indexName);
    expect(coldSearch.results[0]!.id).toBe(coldIds[7]);
    expect(coldSearch.results.every((r) => r.entity === 'cold')).toBe(true);
    // The same answer through the graph (exactScanRows 0), where the graph search is exhaustive.
    const graph = await engine.search({ q: 'cold storage crate 7', entities: ['cold'], mode: 'vector', limit: 5, explain: true });
    expect(graph.explain!.vectorSegments!.sealed).toMatchObject([{ lo: own.lo, scan: 'hnsw' }]);
    expect(graph.results.map((r) => [r.id, r.score.toFixed(6)])).toEqual(coldSearch.results.map((r) => [r.id, r.score.toFixed(6)]));

    const docsSearch = await engine.search({ q: 'cold storage crate 7', entities: ['docs'], mode: 'vector', limit: 5, explain: true });
    expect(docsSearch.explain!.vectorSegments!.sealed.map((x) => x.lo)).not.toContain(own.lo);
    expect(docsSearch.explain!.vectorSegments!.skipped).toBeGreaterThanOrEqual(1);
    expect(docsSearch.results.every((r) => r.entity === 'docs')).toBe(true);

    // Recorded by a process from before the rows per entity: not known, so every search reads it through its graph.
    await db.pool.query('UPDATE kdb_vector_segments SET entity_rows = NULL WHERE index_name = $1', [own.indexName]);
    try {
      const unknown = await exact.search({ q: 'cold storage crate 7', entities: ['docs'], mode: 'vector', limit: 5, explain: true });
      expect(unknown.explain!.vectorSegments!.sealed.find((x) => x.lo === own.lo)).toMatchObject({ scan: 'hnsw' });
      expect(unknown.results.map((r) => r.id)).toEqual(docsSearch.results.map((r) => r.id));
    } finally {
      await db.pool.query(`UPDATE kdb_vector_segments SET entity_rows = '{"cold": 30}' WHERE index_name = $1`, [own.indexName]);
      await exact.close();
    }
  });

  it('a search asking more rows than ef_search raises it for its own statement', async () => {
    // The previous test's 600 tickets, sealed into one HNSW segment; the session's ef_search is 10.
    const narrow = createPool({
      connectionString: db.url,
      sessionSql: [...SearchEngine.sessionSql(10), 'SET enable_sort = off', 'SET enable_seqscan = off', 'SET enable_bitmapscan = off'],
    });
    try {
      const search = new SearchEngine({ pool: narrow, provider, efSearch: 10, segmentCacheMs: 0, exactScanRows: 0 });
      const res = await search.search({ q: 'ticket about the engine', entities: ['tickets'], mode: 'vector', limit: 40, explain: true });
      expect(res.explain!.plans.vector).toMatch(/Index Scan using kdb_vseg_1_3672_4271 on kdb_vectors_1/);
      expect(res.results).toHaveLength(40);
      expect(res.explain!.efSearch).toBe(40);
      // explain re-runs the statement at that setting too. Over every entity (no entity filter, so no
      // iterative scan to go past ef_search), the tickets' segment gave its 40 rows, not the session's 10.
      const all = await search.search({ q: 'ticket about the engine', entities: [], mode: 'vector', limit: 40, explain: true });
      expect(all.explain!.efSearch).toBe(40);
      expect(all.explain!.plans.vector!.split('\n').find((l) => l.includes('Index Scan using kdb_vseg_1_3672_4271'))).toMatch(/actual time=\S+ rows=40 loops=1/);
      // The same statement at the session's ef_search stops at 10 rows; the session keeps 10.
      const v = `[${Array.from(provider.embedOne('ticket about the engine')).join(',')}]`;
      const plain = await narrow.query(vectorSql(await listVectorSegments(narrow, 1), false, 40, 1), [v, ['tickets']]);
      expect(plain.rows).toHaveLength(10);
      expect((await narrow.query('SHOW hnsw.ef_search')).rows[0]['hnsw.ef_search']).toBe('10');
    } finally {
      await narrow.end();
    }
  });

  it('with ef_search auto, a search over a large segment runs at efSearchFor its rows, setting each connection once', async () => {
    // The 600 tickets' segment, recorded as a graph of a million rows: the rule reads the catalog's row count.
    const segs = await listVectorSegments(db.pool, 1);
    const big = segs.find((s) => s.rows === 600)!;
    const want = efSearchFor(1_000_000);
    expect(want).toBeGreaterThan(DEFAULT_EF_SEARCH);
    const one = createPool({ connectionString: db.url, max: 1, sessionSql: [...SearchEngine.sessionSql(), 'SET enable_seqscan = off', 'SET enable_bitmapscan = off'] });
    try {
      const search = new SearchEngine({ pool: one, provider, segmentCacheMs: 0, exactScanRows: 0 });
      const small = await search.search({ q: 'ticket about the engine', entities: [], mode: 'vector', limit: 10, explain: true });
      expect(small.explain!.efSearch).toBe(DEFAULT_EF_SEARCH);
      expect(small.explain!.timings_ms.vector_settings).toBeUndefined();
      await db.pool.query('UPDATE kdb_vector_segments SET rows = 1000000 WHERE index_name = $1', [big.indexName]);
      const first = await search.search({ q: 'ticket 7 about the engine', entities: [], mode: 'vector', limit: 10, explain: true });
      expect(first.explain!.efSearch).toBe(want);
      expect(first.explain!.timings_ms.vector_settings).toBeGreaterThan(0);
      expect((await one.query('SHOW hnsw.ef_search')).rows[0]['hnsw.ef_search']).toBe(String(want));
      // The connection keeps it: the next search sends no setting.
      const second = await search.search({ q: 'ticket 8 about the engine', entities: [], mode: 'vector', limit: 10, explain: true });
      expect(second.explain!.efSearch).toBe(want);
      expect(second.explain!.timings_ms.vector_settings).toBeUndefined();
      expect(second.results).toHaveLength(10);
      // Back to a small graph, back to the default on that connection.
      await db.pool.query('UPDATE kdb_vector_segments SET rows = 600 WHERE index_name = $1', [big.indexName]);
      const again = await search.search({ q: 'ticket 9 about the engine', entities: [], mode: 'vector', limit: 10, explain: true });
      expect(again.explain!.efSearch).toBe(DEFAULT_EF_SEARCH);
      expect((await one.query('SHOW hnsw.ef_search')).rows[0]['hnsw.ef_search']).toBe(String(DEFAULT_EF_SEARCH));
      // A configured ef_search is used as it is, whatever the segments.
      await db.pool.query('UPDATE kdb_vector_segments SET rows = 1000000 WHERE index_name = $1', [big.indexName]);
      const pinned = new SearchEngine({ pool: one, provider, efSearch: 40, segmentCacheMs: 0, exactScanRows: 0 });
      expect((await pinned.search({ q: 'ticket about the engine', entities: [], mode: 'vector', limit: 10, explain: true })).explain!.efSearch).toBe(40);
    } finally {
      await db.pool.query('UPDATE kdb_vector_segments SET rows = 600 WHERE index_name = $1', [big.indexName]);
      await one.end();
    }
  });

  it('efSearchFor keeps the default up to EF_BASE_ROWS, grows with the rows in steps of 10, and stops at pgvector\'s 1000', () => {
    expect(efSearchFor(0)).toBe(DEFAULT_EF_SEARCH);
    expect(efSearchFor(EF_BASE_ROWS)).toBe(DEFAULT_EF_SEARCH);
    let last = DEFAULT_EF_SEARCH;
    for (const rows of [20_000, 50_000, 100_000, 375_000, 1_000_000, 10_000_000, 1e9]) {
      const ef = efSearchFor(rows);
      expect(ef % 10).toBe(0);
      expect(ef).toBeGreaterThanOrEqual(last);
      expect(ef).toBeLessThanOrEqual(1000);
      last = ef;
    }
    expect(efSearchFor(1e12)).toBe(1000);
    expect(efSearchFor(Number.NaN)).toBe(DEFAULT_EF_SEARCH);
  });

  it('plans the vector statement once per connection, not on every search', async () => {
    // With `LIMIT $n` PostgreSQL judged its generic plan costlier on every execution and planned each
    // search anew; the limit written into the text lets it keep one generic plan.
    const one = createPool({ connectionString: db.url, max: 1, sessionSql: SearchEngine.sessionSql() });
    try {
      const search = new SearchEngine({ pool: one, provider, segmentCacheMs: 60_000, exactScanRows: 0 });
      for (let i = 0; i < 12; i++) await search.search({ q: `ticket ${i} about the engine`, entities: ['tickets'], mode: 'vector', limit: 10 });
      const { rows } = await one.query<{ generic_plans: string; custom_plans: string }>(
        `SELECT generic_plans, custom_plans FROM pg_prepared_statements WHERE name LIKE 'kdb_vector_%'`,
      );
      expect(rows).toHaveLength(1);
      expect(Number(rows[0]!.generic_plans)).toBeGreaterThanOrEqual(6);
      expect(Number(rows[0]!.custom_plans)).toBeLessThanOrEqual(6);
      // The contrast: the same statement with its limit as a parameter is planned on every execution.
      const text = vectorSql(await listVectorSegments(one, 1), false, 10, 1).replace(/LIMIT 10\b/g, 'LIMIT $3');
      for (let i = 0; i < 12; i++) {
        const v = `[${Array.from(provider.embedOne(`ticket ${i} about the engine`)).join(',')}]`;
        await one.query({ name: 'limit_as_parameter', text, values: [v, ['tickets'], 10] });
      }
      const contrast = await one.query<{ generic_plans: string; custom_plans: string }>(
        `SELECT generic_plans, custom_plans FROM pg_prepared_statements WHERE name = 'limit_as_parameter'`,
      );
      expect(contrast.rows[0]).toEqual({ generic_plans: '0', custom_plans: '12' });
    } finally {
      await one.end();
    }
    expect(() => vectorSql([], false, 0, 1)).toThrow('vector limit must be a positive integer; got 0');
  });

  it('a hybrid search sends its vector statement before its keyword statement', async () => {
    // Sending a statement blocks the event loop in a system call; the longer vector scan goes first.
    const sent: string[] = [];
    const pool = createPool({ connectionString: db.url, sessionSql: SearchEngine.sessionSql() });
    const spy = Object.create(pool) as pg.Pool;
    spy.query = ((config: pg.QueryConfig | string, ...rest: unknown[]) => {
      if (typeof config !== 'string' && config.name) sent.push(config.name.replace(/_[0-9a-f]{12}$/, ''));
      return (pool.query as (...a: unknown[]) => unknown)(config, ...rest);
    }) as typeof pool.query;
    try {
      const search = new SearchEngine({ pool: spy, provider, segmentCacheMs: 60_000, exactScanRows: 0 });
      // The first search embeds the query; the second finds its vector in the engine's cache.
      // Every entity: no entity filter, so the vector statement goes through the pool (a narrowed
      // search runs it in a transaction with an iterative scan, on a client this spy does not see).
      await search.search({ q: 'ticket about the engine', entities: [], mode: 'hybrid', limit: 10 });
      sent.length = 0;
      const res = await search.search({ q: 'ticket about the engine', entities: [], mode: 'hybrid', limit: 10 });
      expect(res.results.length).toBeGreaterThan(0);
      // A catalog refreshed in the background (reuseFor) may be read in between: the retrievers' statements are what is ordered.
      const retrievers = sent.filter((name) => name === 'kdb_vector' || name.startsWith('kdb_keyword_'));
      expect(retrievers.slice(0, 2)).toEqual(['kdb_vector', 'kdb_keyword_stats_heads']);
    } finally {
      await pool.end();
    }
  });

  it('replaces a search connection after its lifetime, and its prepared statements with it', async () => {
    const short = createPool({ connectionString: db.url, max: 1, maxLifetimeSeconds: 1, sessionSql: SearchEngine.sessionSql() });
    try {
      const search = new SearchEngine({ pool: short, provider, segmentCacheMs: 60_000, exactScanRows: 0 });
      const ask = () => search.search({ q: 'ticket about the engine', entities: ['tickets'], mode: 'vector', limit: 10 });
      // The connection's backend and its prepared vector statements.
      const session = async () =>
        (
          await short.query<{ pid: number; statements: number }>(
            `SELECT pg_backend_pid() AS pid, (SELECT count(*)::int FROM pg_prepared_statements WHERE name LIKE 'kdb_vector_%') AS statements`,
          )
        ).rows[0]!;
      const first = await ask();
      const before = await session();
      expect(before.statements).toBe(1);
      await new Promise((r) => setTimeout(r, 1500));
      const after = await session();
      expect(after.pid).not.toBe(before.pid);
      expect(after.statements).toBe(0);
      // The new connection prepares the statement again and answers the same.
      expect((await ask()).results.map((r) => r.id)).toEqual(first.results.map((r) => r.id));
    } finally {
      await short.end();
    }
  });

  it('asks about the ingest backlog before reading the hot rows: a last batch finishing in between is sealed with the rest', async () => {
    const hot0 = (await vectorIndexStatus(db.pool, 1)).hotRows;
    await write(400);
    const sealed = (await listVectorSegments(db.pool, 1)).length;
    let last: string[] = [];
    // The load's last batch commits (and its job completes) just as the manager asks whether jobs remain.
    const m = manager({
      idleMs: 60_000,
      busy: async () => {
        if (!last.length) last = await write(50);
        return false;
      },
    });
    expect(await m.step()).toMatchObject({ kind: 'seal', rows: hot0 + 450 });
    expect(await listVectorSegments(db.pool, 1)).toHaveLength(sealed + 1);
    expect(await vectorIndexStatus(db.pool, 1)).toMatchObject({ hotRows: 0 });
    expect(await selfFound([ids.length - 1, ids.length - 50])).toBe(2);
  });

  it('seals a hot range grown past maxMergeRows in pieces that fit, oldest first, and merges none of them past it', async () => {
    const before = await listVectorSegments(db.pool, 1);
    const sealedHi = BigInt(before.at(-1)!.hi);
    const first = ids.length;
    await write(620);
    const m = manager({ maxMergeRows: 250 });
    const steps: { kind: string; rows?: number }[] = [];
    for (let i = 0; i < 20; i++) {
      const s = await m.step();
      steps.push(s);
      if (s.kind === 'nothing') break;
    }
    expect(steps.slice(0, 3)).toMatchObject([{ kind: 'seal', rows: 250 }, { kind: 'seal', rows: 250 }, { kind: 'seal', rows: 120 }]);
    expect(steps.at(-1)).toMatchObject({ kind: 'nothing', hotRows: 0 });
    const fresh = (await listVectorSegments(db.pool, 1)).filter((s) => BigInt(s.lo) > sealedHi);
    expect(fresh.length).toBeGreaterThanOrEqual(3);
    expect(fresh.every((s) => s.rows <= 250)).toBe(true);
    expect(fresh.reduce((n, s) => n + s.rows, 0)).toBe(620);
    expect(await selfFound([first, first + 249, first + 250, first + 499, first + 619])).toBe(5);
  });
});
