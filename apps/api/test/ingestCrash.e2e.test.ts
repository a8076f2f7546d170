import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import { startApiProcess, stopAll, type ChildApp } from '../../../test-support/processes.js';
import { test } from '../../../test-support/fixtures.js';
import type { TestDatabase } from '../../../test-support/testDatabase.js';
import { ingestTransactionWrote } from '../../../test-support/ingestTransactionWrote.js';
import { redisUrl } from '../../../test-support/urls.js';

describe('API process killed in the middle of an ingest', () => {
  let db: TestDatabase;
  let prefix: string;
  const children: ChildApp[] = [];

  test.beforeAll(async ({ db: d, prefix: p }) => {
    [db, prefix] = [d, p];
  });
  afterAll(async () => {
    await stopAll(children);
  });

  it('leaves nothing half-written: the records of the request are all there or none', async () => {
    const api = await startApiProcess({ KDB_DATABASE_URL: db.url, KDB_REDIS_URL: redisUrl(), KDB_QUEUE_PREFIX: prefix, KDB_AUTH: 'disabled' });
    children.push(api);
    const json = { 'content-type': 'application/json' };
    await fetch(`${api.url}/v1/entities`, { method: 'POST', headers: json, body: JSON.stringify({ name: 'big', fields: { t: 'text' }, embedFields: ['t'] }) });
    const body = Array.from({ length: 100_000 }, (_, i) => JSON.stringify({ t: `row ${i}` })).join('\n');
    const request = fetch(`${api.url}/v1/entities/big/records`, { method: 'POST', headers: { 'content-type': 'application/x-ndjson' }, body }).catch((e: unknown) => e);

    // Wait until the API's ingest transaction has written some rows, then kill it.
    const watcher = new pg.Client({ connectionString: db.url });
    await watcher.connect();
    await ingestTransactionWrote(watcher);
    api.kill('SIGKILL');
    expect(await api.exited).toBe('SIGKILL');
    expect(await request).toBeInstanceOf(Error);
    // The server notices the dead client and rolls its transaction back.
    let records = -1;
    for (let i = 0; i < 100; i++) {
      const { rows } = await watcher.query(`SELECT (SELECT count(*) FROM kdb_records)::int AS r, (SELECT count(*) FROM kdb_search)::int AS s,
        (SELECT count(*) FROM pg_stat_activity WHERE application_name = 'kameleondb-api' AND datname = current_database())::int AS live`);
      if (rows[0].live === 0) {
        records = rows[0].r;
        expect(rows[0].s).toBe(records);
        break;
      }
      await new Promise((r) => setTimeout(r, 50));
    }
    await watcher.end();
    expect(records).toBe(0);
  });

  it('KDB_POSTINGS_BLOCKS_MIN_RECORDS decides the layout: chunks below it write rows, at or above it blocks', async () => {
    const json = { 'content-type': 'application/json' };
    const layout = async (min: string | undefined, entity: string) => {
      const api = await startApiProcess({ KDB_DATABASE_URL: db.url, KDB_REDIS_URL: redisUrl(), KDB_QUEUE_PREFIX: prefix, KDB_AUTH: 'disabled', ...(min ? { KDB_POSTINGS_BLOCKS_MIN_RECORDS: min } : {}) });
      children.push(api);
      await fetch(`${api.url}/v1/entities`, { method: 'POST', headers: json, body: JSON.stringify({ name: entity, fields: { t: 'text' }, embedFields: ['t'] }) });
      const r = await fetch(`${api.url}/v1/entities/${entity}/records`, { method: 'POST', headers: json, body: JSON.stringify(Array.from({ length: 1000 }, (_, i) => ({ t: `layout ${i}` }))) });
      expect(r.ok).toBe(true);
      api.kill('SIGTERM');
      await api.exited;
      const { rows } = await db.pool.query(
        `SELECT (SELECT count(*) FROM kdb_postings WHERE entity = $1)::int AS rows, (SELECT coalesce(sum(n), 0) FROM kdb_postings_blocks WHERE entity = $1)::int AS blocked`,
        [entity],
      );
      return rows[0];
    };
    // Three postings a record: the composed text is `t: layout <i>`.
    expect(await layout(undefined, 'deflayout')).toEqual({ rows: 0, blocked: 3000 });
    expect(await layout('1001', 'rowlayout')).toEqual({ rows: 3000, blocked: 0 });
  });

  it('killed after its first postings blocks were written: no block, posting or term statistic of it is left', async () => {
    const api = await startApiProcess({ KDB_DATABASE_URL: db.url, KDB_REDIS_URL: redisUrl(), KDB_QUEUE_PREFIX: prefix, KDB_AUTH: 'disabled' });
    children.push(api);
    const json = { 'content-type': 'application/json' };
    await fetch(`${api.url}/v1/entities`, { method: 'POST', headers: json, body: JSON.stringify({ name: 'blocky', fields: { t: 'text' }, embedFields: ['t'] }) });
    const count = async (c: pg.Client) =>
      (
        await c.query(`SELECT (SELECT count(*) FROM kdb_records WHERE entity = 'blocky')::int AS records, (SELECT count(*) FROM kdb_postings_blocks WHERE entity = 'blocky')::int AS blocks,
                              (SELECT count(*) FROM kdb_postings WHERE entity = 'blocky')::int AS rows, (SELECT count(*) FROM kdb_bm25_terms WHERE entity = 'blocky')::int AS terms,
                              (SELECT count(*) FROM kdb_search WHERE doc_no IS NOT NULL AND entity = 'blocky')::int AS numbered`)
      ).rows[0] as Record<string, number>;
    // 120,000 records: the first postings batch (50,000 documents) is written as blocks well before the last record is read.
    const body = Array.from({ length: 120_000 }, (_, i) => JSON.stringify({ t: `blocky ${i} w${i % 977} v${i % 13}` })).join('\n');
    const request = fetch(`${api.url}/v1/entities/blocky/records`, { method: 'POST', headers: { 'content-type': 'application/x-ndjson' }, body }).catch((e: unknown) => e);
    const watcher = new pg.Client({ connectionString: db.url });
    await watcher.connect();
    const deadline = Date.now() + 120_000;
    // The API's transaction is past its first COPY into kdb_postings_blocks once it runs the next statement.
    let sawCopy = false;
    for (;;) {
      const { rows } = await watcher.query<{ query: string }>(
        `SELECT query FROM pg_stat_activity WHERE datname = current_database() AND application_name = 'kameleondb-api' AND backend_xid IS NOT NULL`,
      );
      if (rows.some((r) => r.query.startsWith('COPY kdb_postings_blocks'))) sawCopy = true;
      else if (sawCopy) break;
      if (Date.now() > deadline) throw new Error('never saw the ingest write its postings blocks');
      await new Promise((r) => setTimeout(r, 2));
    }
    api.kill('SIGKILL');
    expect(await api.exited).toBe('SIGKILL');
    expect(await request).toBeInstanceOf(Error);
    for (let i = 0; i < 200; i++) {
      const { rows } = await watcher.query(`SELECT count(*)::int AS live FROM pg_stat_activity WHERE application_name = 'kameleondb-api' AND datname = current_database()`);
      if (rows[0].live === 0) break;
      await new Promise((r) => setTimeout(r, 50));
    }
    expect(await count(watcher)).toEqual({ records: 0, blocks: 0, rows: 0, terms: 0, numbered: 0 });
    await watcher.end();
  });

  it('a retry with the same Idempotency-Key after the API died gives one copy, whether or not the first attempt committed', async () => {
    const env = { KDB_DATABASE_URL: db.url, KDB_REDIS_URL: redisUrl(), KDB_QUEUE_PREFIX: prefix, KDB_AUTH: 'disabled' };
    const json = { 'content-type': 'application/json' };
    const body = JSON.stringify(Array.from({ length: 20_000 }, (_, i) => ({ t: `keyed ${i}` })));
    const send = (url: string, key: string, query = '') =>
      fetch(`${url}/v1/entities/big/records${query}`, { method: 'POST', headers: { ...json, 'idempotency-key': key }, body });
    const watcher = new pg.Client({ connectionString: db.url });
    await watcher.connect();
    const keyed = async () => (await watcher.query(`SELECT count(*)::int AS n FROM kdb_records WHERE data->>'t' LIKE 'keyed %'`)).rows[0].n as number;

    // 1. Killed after the commit, before answering (?wait=true and no worker: it waits for vectors).
    let api = await startApiProcess(env);
    children.push(api);
    const lost = send(api.url, 'batch-a', '?wait=true').catch((e: unknown) => e);
    const deadline = Date.now() + 60_000;
    while ((await keyed()) < 20_000) {
      if (Date.now() > deadline) throw new Error('the first attempt never committed');
      await new Promise((r) => setTimeout(r, 20));
    }
    api.kill('SIGKILL');
    await api.exited;
    expect(await lost).toBeInstanceOf(Error);
    api = await startApiProcess(env);
    children.push(api);
    const retry = await send(api.url, 'batch-a');
    const answer = (await retry.json()) as { count: number; ids: string[]; replayed?: boolean; jobs: number };
    expect(retry.status).toBe(202);
    expect(answer).toMatchObject({ count: 20_000, replayed: true });
    expect(answer.jobs).toBeGreaterThan(0); // its rows were still pending: enqueued again
    expect(await keyed()).toBe(20_000);
    const { rows } = await watcher.query(`SELECT count(*)::int AS n FROM kdb_records WHERE id = ANY($1::uuid[])`, [answer.ids]);
    expect(rows[0].n).toBe(20_000);

    // 2. Killed inside the transaction: nothing committed, so the retry writes the records once.
    const inFlight = send(api.url, 'batch-b').catch((e: unknown) => e);
    await ingestTransactionWrote(watcher);
    api.kill('SIGKILL');
    await api.exited;
    expect(await inFlight).toBeInstanceOf(Error);
    api = await startApiProcess(env);
    children.push(api);
    // The dead backend's transaction is rolled back when Postgres notices; the retry waits on the key row meanwhile.
    const second = (await (await send(api.url, 'batch-b')).json()) as { count: number; replayed?: boolean };
    expect(second.count).toBe(20_000);
    expect(second.replayed).toBeUndefined();
    expect(await keyed()).toBe(40_000);
    await watcher.end();
  });
});
