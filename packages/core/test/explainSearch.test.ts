import pg from 'pg';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createEntity, createPool, HashProvider, SearchEngine, SegmentManager, type Entity } from '@kameleondb/core';
import { embedBatch } from '../src/batching/embedBatch.js';
import { ingestTestRecords } from '../../../test-support/ingestTestRecords.js';
import { createTestDatabase, type TestDatabase } from '../../../test-support/testDatabase.js';

// Timings are rounded to the microsecond each: a sum of n of them may be off by n µs.
const EPS = 0.01;

describe('explainSearch: the steps of the vector retriever', () => {
  let db: TestDatabase;
  let entity: Entity;
  let searchPool: pg.Pool;
  let engine: SearchEngine;
  const provider = new HashProvider();
  const texts: string[] = [];

  const write = async (n: number) => {
    const batch = Array.from({ length: n }, (_, i) => ({ title: `doc ${texts.length + i} ${['alpha', 'beta', 'gamma'][i % 3]} topic${(texts.length + i) % 23}`, status: i % 2 ? 'open' : 'closed' }));
    const ids = await ingestTestRecords(db.pool, entity, batch);
    await embedBatch({ pool: db.pool, provider, ids });
    texts.push(...batch.map((b) => b.title));
  };

  beforeAll(async () => {
    db = await createTestDatabase();
    entity = await createEntity(db.pool, { name: 'docs', fields: { title: 'text', status: 'string' }, embedFields: ['title'] });
    await createEntity(db.pool, { name: 'other', fields: { title: 'text' }, embedFields: ['title'] });
    // Two sealed segments and a hot range: the statement is a UNION ALL of three scans.
    const manager = new SegmentManager({ connectionString: db.url, logger: pino({ level: 'silent' }), sealRows: 100, mergeFactor: 10, idleMs: 60_000 });
    try {
      await write(150);
      expect(await manager.step()).toMatchObject({ kind: 'seal', lo: '1', hi: '150' });
      await write(120);
      expect(await manager.step()).toMatchObject({ kind: 'seal', lo: '151', hi: '270' });
    } finally {
      await manager.close();
    }
    await write(30);
    searchPool = createPool({ connectionString: db.url, sessionSql: SearchEngine.sessionSql() });
    engine = new SearchEngine({ pool: searchPool, provider, segmentCacheMs: 0 });
  });
  afterAll(async () => {
    await engine?.close();
    await searchPool?.end();
    await db?.close();
  });

  it('times the query-vector lookup, the catalog read, the statement, and from its re-run the scan of each range', async () => {
    // Every entity and no filter: one statement, no transaction.
    const res = await engine.search({ q: texts[7]!, entities: ['docs', 'other'], mode: 'vector', limit: 5, explain: true });
    const t = res.explain!.timings_ms;
    expect(Object.keys(t).sort()).toEqual(
      ['embed_query', 'entities', 'fetch', 'fusion', 'query_vector', 'retrievers', 'route', 'segment_catalog', 'space', 'vector', 'vector_execution', 'vector_planning', 'vector_scan_hot', 'vector_scan_segments'].sort(),
    );
    for (const v of Object.values(t)) expect(v).toBeGreaterThanOrEqual(0);
    // Vector mode's statement brings each hit's record along (no fetch after it): the right one.
    expect(res.explain!.plans.vector).toMatch(/on kdb_records rr/);
    expect(res.results).toHaveLength(5);
    for (const r of res.results) expect(r.content).toBe(`title: ${r.data.title as string}`);
    expect(res.results[0]!.data.title).toBe(texts[7]);
    // The two lookups run at once: embed_query is the longer of them.
    expect(Math.max(t.query_vector!, t.segment_catalog!)).toBeLessThanOrEqual(t.embed_query! + EPS);
    // The steps of the search itself follow one another inside its took_ms.
    expect(t.embed_query! + t.vector! + t.fusion! + t.fetch!).toBeLessThanOrEqual(res.took_ms + EPS);
    // The re-run: each range's scan is part of the statement's execution, and explain names them.
    const seg = res.explain!.vectorSegments!;
    expect(seg.sealed.map((s) => [s.lo, s.hi, s.m, s.efConstruction])).toEqual([
      ['1', '150', 24, 192],
      ['151', '270', 24, 192],
    ]);
    const scans = seg.sealed.map((s) => s.scanMs!);
    expect(scans.every((ms) => ms > 0)).toBe(true);
    expect(t.vector_scan_segments).toBeCloseTo(scans[0]! + scans[1]!, 2);
    expect(seg.hotScanMs).toBe(t.vector_scan_hot);
    expect(t.vector_scan_hot).toBeGreaterThan(0); // 30 hot rows were read
    expect(t.vector_scan_segments! + t.vector_scan_hot!).toBeLessThanOrEqual(t.vector_execution! + EPS);
  });

  it('times the transaction settings of a filtered or narrowed search as part of the statement step', async () => {
    const res = await engine.search({ q: texts[7]!, entities: ['docs'], mode: 'vector', limit: 5, where: { status: 'open' }, explain: true });
    expect(res.results.every((r) => r.data.status === 'open')).toBe(true);
    const t = res.explain!.timings_ms;
    expect(t.vector_settings).toBeGreaterThan(0);
    expect(t.vector_settings).toBeLessThanOrEqual(t.vector! + EPS);
    // Fewer entities than all: the HNSW scans are filtered too, so they run in the same kind of transaction.
    const narrowed = await engine.search({ q: texts[7]!, entities: ['docs'], mode: 'vector', limit: 5, explain: true });
    expect(narrowed.explain!.timings_ms.vector_settings).toBeGreaterThan(0);
  });
});
