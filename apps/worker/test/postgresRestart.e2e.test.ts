import type pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createPool, HashProvider } from '@kameleondb/core';
import { startApiProcess, startTogether, startWorkerProcess, stopAll, type ChildApp } from '../../../test-support/processes.js';
import { obliterateQueues, testPrefix } from '../../../test-support/queuePrefix.js';
import { readVectors } from '../../../test-support/testDatabase.js';
import { createClusterDatabase, createThrowawayCluster, type ThrowawayCluster } from '../../../test-support/throwawayCluster.js';
import { redisUrl } from '../../../test-support/urls.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const alive = (c: ChildApp) => c.proc.exitCode === null && c.proc.signalCode === null;

/**
 * `pg_ctlcluster … restart -m fast` on a cluster of the test's own while
 * real API and worker processes are inside transactions. Every session gets
 * 57P01 (or a reset socket), and for a moment new connections are refused.
 */
describe('Postgres restarted under load', () => {
  let cluster: ThrowawayCluster;
  let pool: pg.Pool;
  let prefix: string;
  let api: ChildApp & { url: string };
  let workers: ChildApp[] = [];
  const json = { 'content-type': 'application/json' };

  /** A query of the test itself, retried while the server restarts. */
  async function q<T extends pg.QueryResultRow>(sql: string, params: unknown[] = []): Promise<T[]> {
    for (let i = 0; ; i++) {
      try {
        return (await pool.query<T>(sql, params)).rows;
      } catch (err) {
        if (i > 200) throw err;
        await sleep(100);
      }
    }
  }

  /** Resolves once a session of `app` is inside a transaction that has written (Postgres gave it an xid). */
  async function writingTransaction(app: string): Promise<void> {
    const deadline = Date.now() + 30_000;
    for (;;) {
      const rows = await q<{ n: number }>(
        `SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = current_database() AND application_name = $1 AND backend_xid IS NOT NULL`,
        [app],
      );
      if (rows[0]!.n > 0) return;
      if (Date.now() > deadline) throw new Error(`never saw a writing transaction of ${app}`);
      await sleep(2);
    }
  }

  async function readyCount(marker: string): Promise<number> {
    const rows = await q<{ n: number }>(
      `SELECT count(*)::int AS n FROM kdb_search s JOIN kdb_records r ON r.id = s.record_id WHERE s.status = 'ready' AND r.data->>'t' LIKE $1`,
      [`${marker} %`],
    );
    return rows[0]!.n;
  }

  async function allReady(marker: string, n: number, ms: number): Promise<number> {
    const deadline = Date.now() + ms;
    let ready = await readyCount(marker);
    // A dead process fails the test at once (the asserts after this name it).
    while (ready < n && Date.now() < deadline && [api, ...workers].every(alive)) {
      await sleep(250);
      ready = await readyCount(marker);
    }
    return ready;
  }

  beforeAll(async () => {
    cluster = await createThrowawayCluster();
    const url = await createClusterDatabase(cluster, 'kdb');
    prefix = testPrefix();
    const env = {
      KDB_DATABASE_URL: url,
      KDB_REDIS_URL: redisUrl(),
      KDB_QUEUE_PREFIX: prefix,
      KDB_AUTH: 'disabled',
      // Many small batches, so a restart lands inside some of them.
      KDB_EMBEDDING_MAX_INPUTS: '128',
    };
    const [a, w1, w2] = await startTogether(() => startApiProcess({ ...env, KDB_JOB_SIZE: '128' }), () => startWorkerProcess(env), () => startWorkerProcess(env));
    [api, workers] = [a, [w1, w2]];
    pool = createPool({ connectionString: url, max: 2 });
    const res = await fetch(`${api.url}/v1/entities`, { method: 'POST', headers: json, body: JSON.stringify({ name: 'docs', fields: { t: 'text' }, embedFields: ['t'] }) });
    expect(res.status).toBe(201);
  });
  afterAll(async () => {
    await stopAll([api, ...workers]);
    await pool?.end().catch(() => undefined);
    await cluster?.drop();
    if (prefix) await obliterateQueues(prefix);
  });

  it('during worker batches: no process exits, the batches roll back and are retried, every row ends ready', async () => {
    const n = 20_000;
    const res = await fetch(`${api.url}/v1/entities/docs/records`, {
      method: 'POST',
      headers: json,
      body: JSON.stringify(Array.from({ length: n }, (_, i) => ({ t: `batch ${i} word${i % 97} other${i % 13}` }))),
    });
    expect(res.status).toBe(202);
    const ids = ((await res.json()) as { ids: string[] }).ids;

    await writingTransaction('kameleondb-worker');
    const before = await readyCount('batch');
    await cluster.restart();
    expect(before).toBeLessThan(n / 2);

    const ready = await allReady('batch', n, 90_000);
    for (const c of [api, ...workers]) expect(alive(c), c.output().slice(-2000)).toBe(true);
    expect(ready).toBe(n);
    // The restart reached batches in flight, which failed and went back to the queue.
    const logs = workers.map((w) => w.output()).join('');
    expect(logs).toContain('embed batch failed');
    // Handled where it happened, not by the process-level safety net.
    expect(logs).not.toContain('carrying on');
    const provider = new HashProvider();
    const rows = await readVectors(pool, ids);
    expect([...rows.values()].filter((r) => r.status !== 'ready')).toEqual([]);
    for (const row of rows.values()) expect(row.vector).toEqual(Array.from(provider.embedOne(row.content)));
  });

  it('during an API ingest: the API answers 503 with Retry-After and writes nothing; the retry is stored once and ends ready', async () => {
    const n = 20_000;
    const body = Array.from({ length: n }, (_, i) => JSON.stringify({ t: `ingest ${i} term${i % 101}` })).join('\n');
    const send = () => fetch(`${api.url}/v1/entities/docs/records`, { method: 'POST', headers: { 'content-type': 'application/x-ndjson' }, body });
    const recordsOf = async () => (await q<{ n: number }>(`SELECT count(*)::int AS n FROM kdb_records WHERE data->>'t' LIKE 'ingest %'`))[0]!.n;

    const first = send().catch((err: unknown) => err);
    await writingTransaction('kameleondb-api');
    await cluster.restart();
    const res = await first;
    if (!(res instanceof Response)) throw new Error(`no answer to the ingest (${String(res)}); API output:\n${api.output().slice(-2000)}`);
    const answer = (await res.json()) as { error?: { code: string; message: string } };
    expect({ status: res.status, answer }).toMatchObject({ status: 503, answer: { error: { code: 'unavailable' } } });
    expect(Number(res.headers.get('retry-after'))).toBeGreaterThan(0);
    expect(alive(api), api.output().slice(-2000)).toBe(true);
    expect(await recordsOf()).toBe(0);

    // The server is back: the same request now goes through, once.
    let retry = await send();
    for (let i = 0; retry.status === 503 && i < 20; i++) {
      await sleep(Number(retry.headers.get('retry-after') ?? 1) * 1000);
      retry = await send();
    }
    expect(retry.status).toBe(202);
    expect(await recordsOf()).toBe(n);
    const ready = await allReady('ingest', n, 90_000);
    for (const c of [api, ...workers]) expect(alive(c), c.output().slice(-2000)).toBe(true);
    expect(ready).toBe(n);
  });
});
