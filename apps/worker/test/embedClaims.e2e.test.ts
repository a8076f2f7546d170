import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFakeOpenAI, type FakeOpenAI } from '../../../test-support/fakeOpenAI.js';
import { jsonClient, until } from '../../../test-support/http.js';
import { startApiProcess, startTogether, startWorkerProcess, stopAll, type ChildApp } from '../../../test-support/processes.js';
import { obliterateQueues, testPrefix } from '../../../test-support/queuePrefix.js';
import { createTestDatabase, readVectors, type TestDatabase } from '../../../test-support/testDatabase.js';
import { redisUrl } from '../../../test-support/urls.js';

const LEASE_MS = 2000;

/**
 * Two worker processes given the same texts at once (two entities of equal
 * documents, each ingest one job), against the local OpenAI wire-format
 * server: each worker has an API key of its own, so every request names the
 * process that sent it. The provider answers slowly, so the second job is
 * taken while the first one's requests are in flight, before its cache
 * entries exist.
 */
describe('in-flight embed claims across worker processes', () => {
  let db: TestDatabase;
  let fake: FakeOpenAI;
  let prefix: string;
  let api: ChildApp & { url: string };
  const workers = new Map<string, ChildApp>();
  let call: ReturnType<typeof jsonClient>;

  const ready = async (entity: string) =>
    (await db.pool.query<{ n: number }>(`SELECT count(*)::int AS n FROM kdb_search WHERE entity = $1 AND status = 'ready'`, [entity])).rows[0]!.n;
  const ingest = async (entity: string, texts: string[]) => {
    const res = await call('POST', `/v1/entities/${entity}/records`, texts.map((text) => ({ text })));
    expect(res.status).toBe(202);
    return res.body.ids as string[];
  };
  const sentBy = (key: string, match: RegExp) =>
    fake.requests.filter((r) => r.authorization === `Bearer ${key}`).flatMap((r) => r.input).filter((t) => match.test(t));

  beforeAll(async () => {
    db = await createTestDatabase();
    fake = await startFakeOpenAI();
    prefix = testPrefix();
    const env = {
      KDB_DATABASE_URL: db.url,
      KDB_REDIS_URL: redisUrl(),
      KDB_QUEUE_PREFIX: prefix,
      KDB_AUTH: 'disabled',
      KDB_EMBEDDING_PROVIDER: 'openai',
      KDB_EMBEDDING_DIMENSIONS: '384',
      OPENAI_BASE_URL: fake.url,
      KDB_EMBEDDING_MAX_INPUTS: '100',
      KDB_JOB_LOCK_MS: '2000',
      KDB_EMBED_CLAIM_LEASE_MS: String(LEASE_MS),
      KDB_SEGMENTS: 'off',
    };
    const [a, w1, w2] = await startTogether(
      // One job per ingest: a worker takes it whole (it has more ids than a batch takes).
      () => startApiProcess({ ...env, OPENAI_API_KEY: 'sk-api', KDB_JOB_SIZE: '1000' }),
      () => startWorkerProcess({ ...env, OPENAI_API_KEY: 'sk-one' }),
      () => startWorkerProcess({ ...env, OPENAI_API_KEY: 'sk-two' }),
    );
    api = a;
    workers.set('sk-one', w1).set('sk-two', w2);
    call = jsonClient(api.url);
    for (const name of ['a', 'b', 'c', 'd']) await call('POST', '/v1/entities', { name, fields: { text: 'text' }, embedFields: ['text'] });
  }, 120_000);

  afterAll(async () => {
    await stopAll([api, ...workers.values()]);
    await fake?.close();
    await obliterateQueues(prefix);
    await db?.close();
  });

  it('sends each text to the provider once when two workers hold it at once', async () => {
    const texts = Array.from({ length: 200 }, (_, i) => `shared document ${i}`);
    fake.delayMs = 600;
    const first = await ingest('a', texts);
    await until(async () => fake.requests.length > 0, 10_000, 10);
    const holder = fake.requests[0]!.authorization!.replace('Bearer ', '');
    // The other worker takes this job while the first one's requests are in flight.
    const second = await ingest('b', texts);
    await until(async () => (await ready('a')) === 200 && (await ready('b')) === 200, 30_000, 50);

    const inputs = fake.requests.flatMap((r) => r.input);
    expect(inputs).toHaveLength(200);
    expect(new Set(inputs).size).toBe(200);
    expect(fake.requests.every((r) => r.authorization === `Bearer ${holder}`)).toBe(true);
    const rows = await readVectors(db.pool, [...first, ...second]);
    for (const row of rows.values()) expect(row.vector?.map(Math.fround)).toEqual(Array.from(fake.vectorOf(row.content, 384)));
  });

  it('a worker killed while holding claims holds the other up to the lease, no longer; nothing is lost', async () => {
    const texts = Array.from({ length: 100 }, (_, i) => `orphaned document ${i}`);
    const orphan = /orphaned document/;
    // The holder's request never answers in time: it dies with it.
    fake.delayMs = 10_000;
    await ingest('c', texts);
    const held = await until(async () => fake.requests.find((r) => r.input.some((t) => orphan.test(t))), 10_000, 10);
    const victimKey = held.authorization!.replace('Bearer ', '');
    const otherKey = victimKey === 'sk-one' ? 'sk-two' : 'sk-one';
    const victim = workers.get(victimKey)!;
    await ingest('d', texts);
    // The survivor takes d's job and finds its texts claimed.
    await sleep(300);
    victim.kill('SIGKILL');
    expect(await victim.exited).toBe('SIGKILL');
    const killedAt = Date.now();
    fake.delayMs = 20;

    await until(async () => (await ready('d')) === 100, LEASE_MS + 5000, 20);
    expect(Date.now() - killedAt).toBeLessThan(LEASE_MS + 3000);
    // It waited for the claim (the lease ran from before the dead worker's request), then embedded each text once.
    const own = fake.requests.filter((r) => r.authorization === `Bearer ${otherKey}` && r.input.some((t) => orphan.test(t)));
    expect(own.length).toBeGreaterThan(0);
    expect(own[0]!.at - held.at).toBeGreaterThanOrEqual(LEASE_MS - 250);
    expect(sentBy(otherKey, orphan)).toHaveLength(100);
    expect(new Set(sentBy(otherKey, orphan)).size).toBe(100);

    // The dead worker's job comes back after its lock and finds every text cached.
    await until(async () => (await ready('c')) === 100, 30_000, 50);
    expect(sentBy(otherKey, orphan)).toHaveLength(100);
    expect(sentBy(victimKey, orphan)).toHaveLength(100);
  });
});
