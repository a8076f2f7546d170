import { describe, expect, it } from 'vitest';
import { test } from '../../../test-support/fixtures.js';
import type { Pipeline } from '../../../test-support/startPipeline.js';
import { readVectors } from '../../../test-support/testDatabase.js';
import { HashProvider } from '@kameleondb/core';

// Small batches so the ingest spans many of them; a short lock so the
// dead worker's jobs come back quickly.
test.override('pipelineOptions', { workers: 2, env: { KDB_EMBEDDING_MAX_INPUTS: '256', KDB_JOB_LOCK_MS: '3000' }, apiEnv: { KDB_JOB_SIZE: '256' } });

describe('a worker killed with SIGKILL mid-ingest', () => {
  let p: Pipeline;
  let db: Pipeline['db'];
  let children: Pipeline['workers'];
  let url: string;

  test.beforeAll(async ({ pipeline }) => {
    p = pipeline;
    ({ db } = p);
    url = p.api.url;
    children = [p.api as never, ...p.workers];
  });

  it('loses nothing: all 20,000 rows end ready with correct vectors', async () => {
    const json = { 'content-type': 'application/json' };
    await fetch(`${url}/v1/entities`, { method: 'POST', headers: json, body: JSON.stringify({ name: 'logs', fields: { line: 'text' }, embedFields: ['line'] }) });
    const res = await fetch(`${url}/v1/entities/logs/records`, {
      method: 'POST',
      headers: json,
      body: JSON.stringify(Array.from({ length: 20_000 }, (_, i) => ({ line: `log line ${i} level ${i % 5}` }))),
    });
    expect(res.status).toBe(202);
    const ids = ((await res.json()) as { ids: string[] }).ids;
    const ready = async () => Number((await db.pool.query(`SELECT count(*) FROM kdb_search WHERE status = 'ready'`)).rows[0].count);

    while ((await ready()) < 2000) await new Promise((r) => setTimeout(r, 20));
    const victim = children[1]!;
    victim.kill('SIGKILL');
    expect(await victim.exited).toBe('SIGKILL');
    const atKill = await ready();
    expect(atKill).toBeLessThan(20_000);

    const deadline = Date.now() + 150_000;
    while ((await ready()) < 20_000 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 200));
    const provider = new HashProvider();
    const rows = await readVectors(db.pool, ids);
    expect([...rows.values()].filter((r) => r.status !== 'ready')).toEqual([]);
    for (const row of rows.values()) expect(row.vector).toEqual(Array.from(provider.embedOne(row.content)));
  });
});
