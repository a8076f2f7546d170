import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createEntity, getEntity, HashProvider, readResultVersions, ResultCache, SearchEngine, type Entity, type ResultCacheEvent, type SearchAnswer } from '@kameleondb/core';
import { createSearchDatabase, type SearchDatabase } from '../../../test-support/searchDatabase.js';
import { ingestTestRecords } from '../../../test-support/ingestTestRecords.js';

/** The advisory lock class of the result version slots (sql/000012_result_versions.sql). */
const SLOT_LOCK_CLASS = 727311012;

describe('result cache: answers kept under the result versions of their entities', () => {
  let s: SearchDatabase;
  let docs: Entity;
  let notes: Entity;
  const events: ResultCacheEvent[] = [];
  const count = (e: ResultCacheEvent) => events.filter((x) => x === e).length;
  const engineWith = (cache: { maxEntries?: number; maxBytes?: number }) =>
    new SearchEngine({ pool: s.pool, provider: new HashProvider(), resultCache: new ResultCache<SearchAnswer>({ pool: s.pool, ...cache, onEvent: (e) => events.push(e) }) });
  const client = async () => {
    const c = new pg.Client({ connectionString: s.db.url });
    await c.connect();
    return c;
  };

  beforeAll(async () => {
    s = await createSearchDatabase();
    docs = await getEntity(s.db.pool, 'docs');
    notes = await createEntity(s.db.pool, { name: 'notes', fields: { text: 'text' }, embedFields: ['text'] });
    await ingestTestRecords(s.db.pool, docs, ['red apple', 'green apple', 'apple pie recipe', 'pear tart'].map((text) => ({ text })));
    await ingestTestRecords(s.db.pool, notes, ['apple notes', 'banana notes'].map((text) => ({ text })));
  });
  afterAll(() => s.close());

  it('serves a repeated search from the cache; a write to docs invalidates docs searches and leaves notes searches cached', async () => {
    const engine = engineWith({});
    const q = { q: 'apple', mode: 'keyword' as const, limit: 10 };
    const first = await engine.search({ ...q, entities: ['docs'] });
    expect(first.cached).toBe(false);
    const again = await engine.search({ ...q, entities: ['docs'] });
    expect(again.cached).toBe(true);
    expect(again.results).toEqual(first.results);
    expect((await engine.search({ ...q, entities: ['notes'] })).cached).toBe(false);
    expect((await engine.search({ ...q, entities: ['notes'] })).cached).toBe(true);
    // Bypassed: neither read nor kept.
    expect((await engine.search({ ...q, entities: ['docs'], cache: false })).cached).toBe(false);
    expect((await engine.search({ ...q, entities: ['docs'], explain: true })).cached).toBe(false);

    const [id] = await ingestTestRecords(s.db.pool, docs, [{ text: 'apple apple apple' }]);
    const after = await engine.search({ ...q, entities: ['docs'] });
    expect(after.cached).toBe(false);
    expect(after.results[0]!.id).toBe(id);
    expect((await engine.search({ ...q, entities: ['notes'] })).cached).toBe(true);
    // A search of both entities depends on docs too.
    expect((await engine.search({ ...q, entities: ['docs', 'notes'] })).cached).toBe(false);
    await engine.close();
  });

  it('every table a search reads moves the version of its entity (or the global one) in the writing statement', async () => {
    const v = () => readResultVersions(s.db.pool, ['docs', 'notes']);
    const moves = async (sql: string, who: 'docs' | 'global') => {
      const before = await v();
      await s.db.pool.query(sql);
      const after = await v();
      const part = (text: string, name: string) => text.split('\u0000').find((p) => p.startsWith(`${name}=`));
      expect(after, sql).not.toBe(before);
      expect(part(after, 'notes'), `${sql} must not move notes`).toBe(part(before, 'notes'));
      if (who === 'global') expect(part(after, ''), sql).not.toBe(part(before, ''));
      else expect(part(after, 'docs'), sql).not.toBe(part(before, 'docs'));
    };
    await moves(`UPDATE kdb_records SET data = data WHERE entity = 'docs'`, 'docs');
    // The worker's write: a vector in the active space's table, then the row's status.
    await moves(
      `INSERT INTO kdb_vectors_1 (record_id, entity, embedded_hash, embedding)
       SELECT record_id, entity, content_hash, array_fill(0.5, ARRAY[(SELECT dimensions FROM kdb_embedding_spaces WHERE id = 1)])::vector
         FROM kdb_search WHERE entity = 'docs' LIMIT 1`,
      'docs',
    );
    await moves(`UPDATE kdb_search SET status = 'ready' WHERE entity = 'docs'`, 'docs');
    await moves(`DELETE FROM kdb_postings WHERE entity = 'docs' AND term = 'pear'`, 'docs');
    await moves(`UPDATE kdb_entities SET updated_at = now() WHERE name = 'docs'`, 'docs');
    await moves(`DELETE FROM kdb_records WHERE id = (SELECT id FROM kdb_records WHERE entity = 'docs' ORDER BY id LIMIT 1)`, 'docs');
    await moves(`UPDATE kdb_embedding_spaces SET activated_at = now() WHERE state = 'active'`, 'global');
    await moves(`INSERT INTO kdb_vector_segments (index_name, lo, hi, rows, kind, space_id) VALUES ('kdb_test_segment', 1, 1, 1, 'seal', 1)`, 'global');
    await moves(`DELETE FROM kdb_vector_segments WHERE index_name = 'kdb_test_segment'`, 'global');
    // A statement that writes no row of docs leaves its version alone.
    const before = await v();
    await s.db.pool.query(`UPDATE kdb_records SET data = data WHERE entity = 'no such entity'`);
    expect(await v()).toBe(before);
  });

  it('a writing transaction that dies midway moves no version, and the kept answer is still served', async () => {
    const engine = engineWith({});
    const q = { q: 'apple', entities: ['docs'], mode: 'keyword' as const, limit: 10 };
    await engine.search(q);
    expect((await engine.search(q)).cached).toBe(true);
    const before = await readResultVersions(s.db.pool, ['docs']);
    const writer = await client();
    await writer.query('BEGIN');
    await writer.query(`UPDATE kdb_search SET content = 'gone' WHERE entity = 'docs'`);
    const pid = (await writer.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0]!.pid;
    writer.on('error', () => {});
    await s.db.pool.query('SELECT pg_terminate_backend($1)', [pid]);
    await writer.end().catch(() => {});
    expect(await readResultVersions(s.db.pool, ['docs'])).toBe(before);
    const served = await engine.search(q);
    expect(served.cached).toBe(true);
    expect(served.results.every((r) => r.content !== 'gone')).toBe(true);
    await engine.close();
  });

  it('concurrent writers of one entity never wait on a version row, also when every slot is taken', async () => {
    const sum = async () => Number(/docs=(\d+)/.exec(await readResultVersions(s.db.pool, ['docs']))![1]);
    const before = await sum();
    // Three records of docs, one per writer: the writers share no record row, only the entity.
    const ids = (await s.db.pool.query<{ id: string }>(`SELECT id FROM kdb_records WHERE entity = 'docs' ORDER BY id LIMIT 3`)).rows.map((r) => r.id);
    const touch = (i: number) => `UPDATE kdb_records SET data = data WHERE id = '${ids[i]}'`;
    const a = await client();
    const b = await client();
    const holder = await client();
    try {
      for (const c of [a, b]) await c.query(`BEGIN; SET LOCAL lock_timeout = '3s'`);
      await a.query(touch(0));
      // Both transactions are open and have written docs' version: the second did not wait for the first.
      await b.query(touch(1));
      // Every shared slot held by a third transaction: the next writer keeps a row of its own.
      await holder.query('BEGIN');
      await holder.query('SELECT pg_try_advisory_xact_lock($1, s) FROM generate_series(0, 31) AS s', [SLOT_LOCK_CLASS]);
      const c = await client();
      try {
        await c.query(`BEGIN; SET LOCAL lock_timeout = '3s'`);
        await c.query(touch(2));
        const { rows } = await c.query<{ slot: string }>(`SELECT slot FROM kdb_result_versions WHERE entity = 'docs' AND slot < 0`);
        expect(rows.length).toBe(1);
        await c.query('COMMIT');
      } finally {
        await c.end();
      }
      await holder.query('COMMIT');
      await a.query('COMMIT');
      expect(await sum()).toBe(before + 2);
      await b.query('COMMIT');
      expect(await sum()).toBe(before + 3);
    } finally {
      await Promise.all([a.end(), b.end(), holder.end()]);
    }
  });

  it('evicts the least recently used answer at the entry bound and at the byte bound; an answer larger than the byte bound is not kept', async () => {
    const search = (engine: SearchEngine, q: string) => engine.search({ q, entities: ['docs'], mode: 'keyword', limit: 10 });
    // One record per word: answers of one result each, of about the same size.
    await ingestTestRecords(s.db.pool, docs, ['alpha', 'beta', 'gamma', 'delta', 'epsilon', 'zeta'].map((w) => ({ text: `${w} fruit` })));
    events.length = 0;
    const byEntries = engineWith({ maxEntries: 2 });
    await search(byEntries, 'alpha');
    await search(byEntries, 'beta');
    expect((await search(byEntries, 'alpha')).cached).toBe(true); // alpha now the most recent
    await search(byEntries, 'gamma'); // evicts beta
    expect(count('eviction')).toBe(1);
    expect((await search(byEntries, 'alpha')).cached).toBe(true);
    expect((await search(byEntries, 'beta')).cached).toBe(false);
    await byEntries.close();

    // Room for two of these answers.
    const one = await search(engineWith({}), 'delta');
    const size = Buffer.byteLength(JSON.stringify(one)) + 200;
    events.length = 0;
    const byBytes = engineWith({ maxBytes: Math.floor(size * 2.5) });
    await search(byBytes, 'delta');
    await search(byBytes, 'epsilon');
    expect(count('eviction')).toBe(0);
    expect((await search(byBytes, 'delta')).cached).toBe(true);
    await search(byBytes, 'zeta'); // evicts epsilon
    expect(count('eviction')).toBe(1);
    expect((await search(byBytes, 'delta')).cached).toBe(true);
    expect((await search(byBytes, 'epsilon')).cached).toBe(false);
    await byBytes.close();

    const tiny = engineWith({ maxBytes: 64 });
    await search(tiny, 'apple');
    expect((await search(tiny, 'apple')).cached).toBe(false);
    await tiny.close();
  });
});
