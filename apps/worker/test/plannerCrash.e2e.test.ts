import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startPipeline, type Pipeline } from '../../../test-support/startPipeline.js';
import { until } from '../../../test-support/http.js';

const N = 4000;

describe('the worker running the reindex planner killed mid-run', () => {
  let p: Pipeline;
  let db: Pipeline['db'];
  let fake: NonNullable<Pipeline['fake']>;
  let children: Pipeline['workers'];
  let call: Pipeline['call'];

  beforeAll(async () => {
    // Short locks bring the dead planner's job back fast; a small lead keeps the planner alive through the run.
    p = await startPipeline({
      workers: 2,
      openai: true,
      env: { KDB_EMBEDDING_MAX_INPUTS: '100', KDB_JOB_LOCK_MS: '3000', KDB_PLANNER_MAX_OUTSTANDING: '300' },
    });
    ({ db, call } = p);
    fake = p.fake!;
    children = [p.api as never, ...p.workers];
    await call('POST', '/v1/entities', { name: 'docs', fields: { title: 'text' }, embedFields: ['title'] });
    const res = await call('POST', '/v1/entities/docs/records?wait=true', Array.from({ length: N }, (_, i) => ({ title: `doc ${i}` })));
    expect(res.body.counts.ready).toBe(N);
  });
  afterAll(() => p.close());

  it('resumes from its cursor on another worker and processes every row exactly once', async () => {
    await db.pool.query('DELETE FROM kdb_embedding_cache');
    fake.requests.length = 0;
    fake.delayMs = 150;
    const { id } = (await call('POST', '/v1/reindex', { entity: 'docs', force: true })).body;
    const planner = await until(() => children.slice(1).find((w) => w.output().includes(`"runId":"${id}"`) && w.output().includes('reindex planner started')));
    await until(async () => (await call('GET', `/v1/reindex/${id}`)).body.processed >= 600);
    planner.kill('SIGKILL');
    expect(await planner.exited).toBe('SIGKILL');
    const atKill = (await call('GET', `/v1/reindex/${id}`)).body;
    expect(atKill.state).not.toBe('completed');

    const run = await until(async () => {
      const r = (await call('GET', `/v1/reindex/${id}`)).body;
      return r.state === 'completed' ? r : undefined;
    }, 120_000);
    fake.delayMs = 0;
    const survivor = children.slice(1).find((w) => w !== planner)!;
    expect(survivor.output()).toMatch(new RegExp(`"runId":"${id}".*"msg":"reindex planner started"`));
    expect(run).toMatchObject({ state: 'completed', total: N, planned: N, processed: N, failed: 0 });
    expect(run.embedded + run.cached).toBe(N);
    // The cache was emptied: every text went to the provider (a batch in flight on the dead worker may have gone twice).
    expect(new Set(fake.requests.flatMap((r) => r.input)).size).toBe(N);
    const { rows } = await db.pool.query(`SELECT count(*)::int AS n FROM kdb_embedding_cache`);
    expect(rows[0].n).toBe(N);
  });
});
