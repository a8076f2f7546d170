import { afterAll, describe, expect, it } from 'vitest';
import { createEntity } from '@kameleondb/core';
import { ingestTestRecords } from '../../../test-support/ingestTestRecords.js';
import { startApiProcess, startTogether, startWorkerProcess, stopAll, type ChildApp } from '../../../test-support/processes.js';
import { test } from '../../../test-support/fixtures.js';
import type { TestDatabase } from '../../../test-support/testDatabase.js';
import { jsonClient, until } from '../../../test-support/http.js';
import { redisUrl } from '../../../test-support/urls.js';

const KEY = 'ops-test-key-0123456789';

/** Sum of a metric's samples in Prometheus text format (optionally only lines matching `labels`). */
function sample(text: string, name: string, labels = ''): number {
  return text
    .split('\n')
    .filter((l) => l.startsWith(name) && (l[name.length] === ' ' || l[name.length] === '{') && l.includes(labels))
    .reduce((sum, l) => sum + Number(l.slice(l.lastIndexOf(' ') + 1)), 0);
}

describe('operations: sweeper, metrics, probes', () => {
  let db: TestDatabase;
  let prefix: string;
  const children: ChildApp[] = [];
  let workers: (ChildApp & { probesUrl: string })[];
  let apiUrl: string;

  test.beforeAll(async ({ db: d, prefix: p }) => {
    [db, prefix] = [d, p];
    const env = {
      KDB_DATABASE_URL: db.url,
      KDB_REDIS_URL: redisUrl(),
      KDB_QUEUE_PREFIX: prefix,
      KDB_API_KEY: KEY,
      KDB_SWEEP_EVERY: '1s',
      KDB_SWEEP_AFTER: '1s',
    };
    const [api, w1, w2] = await startTogether(() => startApiProcess(env), () => startWorkerProcess(env), () => startWorkerProcess(env));
    apiUrl = api.url;
    workers = [w1, w2];
    children.push(api, ...workers);
  });
  afterAll(async () => {
    await stopAll(children);
  });

  it('sweeps rows whose enqueue was lost: they still end ready', async () => {
    // Records committed with no embed job, as when the API dies between commit and enqueue.
    const entity = await createEntity(db.pool, { name: 'lost', fields: { t: 'text' }, embedFields: ['t'] });
    const ids = await ingestTestRecords(db.pool, entity, Array.from({ length: 500 }, (_, i) => ({ t: `stranded ${i}` })));
    await until(async () => {
      const { rows } = await db.pool.query(`SELECT count(*)::int AS n FROM kdb_search WHERE record_id = ANY($1::uuid[]) AND status = 'ready'`, [ids]);
      return rows[0].n === 500;
    }, 30_000);
    const scraped = await Promise.all(workers.map(async (w) => (await fetch(`${w.probesUrl}/metrics`)).text()));
    expect(scraped.reduce((n, t) => n + sample(t, 'kdb_sweeper_requeued_total'), 0)).toBe(500);
  });

  it('exposes metrics with the counts of an ingest, and probes', async () => {
    const before = await Promise.all(workers.map(async (w) => (await fetch(`${w.probesUrl}/metrics`)).text()));
    const call = jsonClient(apiUrl, KEY);
    await call('POST', '/v1/entities', { name: 'm', fields: { t: 'text' }, embedFields: ['t'] });
    const res = await call('POST', '/v1/entities/m/records?wait=true', Array.from({ length: 1000 }, (_, i) => ({ t: `metric text ${i % 200}` })));
    expect(res.body.counts.ready).toBe(1000);
    const after = await Promise.all(workers.map(async (w) => (await fetch(`${w.probesUrl}/metrics`)).text()));
    const delta = (name: string, labels = '') => after.reduce((n, t, i) => n + sample(t, name, labels) - sample(before[i]!, name, labels), 0);
    expect(delta('kdb_rows_embedded_total')).toBe(1000);
    expect(delta('kdb_cache_misses_total')).toBe(200);
    expect(delta('kdb_provider_inputs_per_request_sum')).toBe(200);
    expect(delta('kdb_provider_request_seconds_count')).toBe(1);
    expect(delta('kdb_embed_batch_ids_sum')).toBe(1000);
    expect(after[0]).toMatch(/kdb_queue_jobs\{queue="embed",state="waiting",process="worker"\} 0/);

    await call('GET', '/v1/search?q=metric&entity=m');
    expect((await fetch(`${apiUrl}/metrics`)).status).toBe(401);
    const api = await (await fetch(`${apiUrl}/metrics`, { headers: { authorization: `Bearer ${KEY}` } })).text();
    expect(sample(api, 'kdb_search_seconds_count', 'mode="hybrid"')).toBe(1);
    expect(api).toMatch(/kdb_queue_jobs\{queue="embed",state="completed",process="api"\} [1-9]/);

    for (const url of [workers[0]!.probesUrl, apiUrl]) {
      expect(await (await fetch(`${url}/readyz`)).json()).toEqual({ status: 'ready', ready: true, postgres: true, redis: true, migrations: true, spaces: [] });
      expect((await fetch(`${url}/healthz`)).status).toBe(200);
    }
  });

  it('reports not ready while a migration is pending', async () => {
    await db.pool.query(`DELETE FROM kdb_migrations WHERE version = (SELECT max(version) FROM kdb_migrations) RETURNING version`);
    try {
      const r = await fetch(`${workers[1]!.probesUrl}/readyz`);
      expect(r.status).toBe(503);
      expect(await r.json()).toMatchObject({ ready: false, postgres: true, redis: true, migrations: false });
    } finally {
      await db.pool.query(`INSERT INTO kdb_migrations (version, name) VALUES ((SELECT max(version) + 1 FROM kdb_migrations), 'restored')`);
    }
  });
});
