import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFakeOpenAI, type FakeOpenAI } from '../../../test-support/fakeOpenAI.js';
import { jsonClient, until } from '../../../test-support/http.js';
import { startApiProcess, startTogether, startWorkerProcess, stopAll, type ChildApp } from '../../../test-support/processes.js';
import { obliterateQueues, testPrefix } from '../../../test-support/queuePrefix.js';
import { createTestDatabase, type TestDatabase } from '../../../test-support/testDatabase.js';
import { redisUrl } from '../../../test-support/urls.js';

const HASH = 'hash:feature-hash-v1:384';
const RECORDS = 2000;

/** A space build survives a worker killed with SIGKILL, and a cancel stops it; search stays on the active space throughout. */
describe('embedding space builds: a killed worker and a cancel', () => {
  let db: TestDatabase;
  let fake: FakeOpenAI;
  let prefix: string;
  const children: ChildApp[] = [];
  let workers: (ChildApp & { probesUrl: string })[];
  let call: ReturnType<typeof jsonClient>;
  const texts = Array.from({ length: RECORDS }, (_, i) => `entry ${i} on ${['copper', 'meadows', 'tides', 'ciphers'][i % 4]} k${i % 53}`);
  let ids: string[] = [];
  const search = (i: number) => call('GET', `/v1/search?q=${encodeURIComponent(texts[i]!)}&entities=docs&mode=vector&limit=5`);
  const runOf = async (key: string) => (await call('GET', '/v1/spaces')).body.spaces.find((s: { modelKey: string }) => s.modelKey === key)?.buildRun;
  const vectorsIn = async (table: string) => (await db.pool.query(`SELECT count(*)::int AS n FROM ${table} WHERE embedding IS NOT NULL`)).rows[0].n as number;

  beforeAll(async () => {
    db = await createTestDatabase();
    // Slow answers, small requests: the build spans many batches.
    fake = await startFakeOpenAI({ delayMs: 150 });
    prefix = testPrefix();
    const env = {
      KDB_DATABASE_URL: db.url,
      KDB_REDIS_URL: redisUrl(),
      KDB_QUEUE_PREFIX: prefix,
      KDB_AUTH: 'disabled',
      OPENAI_API_KEY: 'sk-local-test',
      KDB_EMBEDDING_MAX_INPUTS: '50',
      KDB_PLANNER_PAGE_SIZE: '50',
      KDB_JOB_LOCK_MS: '3000',
    };
    const [api, w1, w2] = await startTogether(() => startApiProcess(env), () => startWorkerProcess(env), () => startWorkerProcess(env));
    workers = [w1, w2];
    children.push(api, ...workers);
    call = jsonClient(api.url);
    await call('POST', '/v1/entities', { name: 'docs', fields: { text: 'text' }, embedFields: ['text'] });
    const res = await call('POST', '/v1/entities/docs/records?wait=true', texts.map((text) => ({ text })));
    expect(res.status).toBe(200);
    ids = res.body.ids;
  }, 120_000);

  afterAll(async () => {
    await stopAll(children);
    await fake?.close();
    await obliterateQueues(prefix);
    await db?.close();
  });

  it('resumes after a worker is killed mid-build, while search stays on the active space', async () => {
    const key = 'openai:text-embedding-3-small:256';
    expect((await call('POST', '/v1/spaces', { provider: 'openai', model: 'text-embedding-3-small', dimensions: 256, baseUrl: fake.url })).status).toBe(202);
    await until(async () => (await runOf(key))?.processed >= 300, 60_000, 50);
    const victim = workers[0]!;
    victim.kill('SIGKILL');
    expect(await victim.exited).toBe('SIGKILL');
    const atKill = await vectorsIn('kdb_vectors_2');
    expect(atKill).toBeLessThan(RECORDS);
    const answer = await search(11);
    expect(answer.body.space).toBe(HASH);
    expect(answer.body.results[0].id).toBe(ids[11]);

    await until(async () => (await call('GET', '/v1/spaces')).body.active === key, 120_000, 200);
    expect(await runOf(key)).toMatchObject({ state: 'completed' });
    expect(await vectorsIn('kdb_vectors_2')).toBe(RECORDS);
    const after = await search(11);
    expect(after.body.space).toBe(key);
    expect(after.body.results[0].id).toBe(ids[11]);
  }, 180_000);

  it('stops a build on cancel, leaves the active space serving, and a new POST resumes it', async () => {
    const active = 'openai:text-embedding-3-small:256';
    const key = 'openai:text-embedding-3-small:128';
    const body = { provider: 'openai', model: 'text-embedding-3-small', dimensions: 128, baseUrl: fake.url };
    const started = await call('POST', '/v1/spaces', body);
    expect(started.status).toBe(202);
    await until(async () => (await runOf(key))?.processed >= 200, 60_000, 50);
    const cancelled = await call('POST', `/v1/reindex/${started.body.run.id}/cancel`);
    expect(cancelled.body).toMatchObject({ state: 'cancelled' });
    await new Promise((r) => setTimeout(r, 1000));
    const settled = await vectorsIn('kdb_vectors_3');
    await new Promise((r) => setTimeout(r, 3000));
    // No vector lands in the space more than a second after the cancel; it is not switched to.
    expect(await vectorsIn('kdb_vectors_3')).toBe(settled);
    expect(settled).toBeLessThan(RECORDS);
    const spaces = (await call('GET', '/v1/spaces')).body;
    expect(spaces.active).toBe(active);
    expect(spaces.spaces.find((s: { modelKey: string }) => s.modelKey === key)).toMatchObject({ state: 'building', buildRun: { state: 'cancelled' } });
    expect((await search(11)).body.space).toBe(active);
    expect((await call('POST', `/v1/spaces/${encodeURIComponent(key)}/activate`)).status).toBe(409);

    const requestsBefore = fake.requests.filter((r) => r.dimensions === 128).flatMap((r) => r.input).length;
    const resumed = await call('POST', '/v1/spaces', body);
    expect(resumed.status).toBe(202);
    expect(resumed.body.run.id).not.toBe(started.body.run.id);
    await until(async () => (await call('GET', '/v1/spaces')).body.active === key, 120_000, 200);
    // The resumed build embedded what the cancelled one had not written (a request cut short by the cancel is redone), not everything again.
    const inputs = fake.requests.filter((r) => r.dimensions === 128).flatMap((r) => r.input);
    const resumedInputs = inputs.length - requestsBefore;
    expect(resumedInputs).toBeGreaterThanOrEqual(RECORDS - settled);
    expect(resumedInputs).toBeLessThan(RECORDS);
    expect(await vectorsIn('kdb_vectors_3')).toBe(RECORDS);
    expect((await search(11)).body.results[0].id).toBe(ids[11]);
  }, 180_000);
});
