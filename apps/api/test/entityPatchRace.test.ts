import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readEnv } from '../src/env.js';
import { startApi, type RunningApi } from '../src/startApi.js';
import { createTestDatabase, type TestDatabase } from '../../../test-support/testDatabase.js';
import { obliterateQueues, testPrefix } from '../../../test-support/queuePrefix.js';
import { redisUrl } from '../../../test-support/urls.js';

/**
 * PATCH /v1/entities/:name changing embedFields races POST /v1/reindex for the
 * same entity. Whichever wins, the answers must agree with what is stored: a
 * PATCH that answers 409 changed nothing, and one that answers 200 started the
 * recompute run. No worker runs, so every run stays live until cancelled.
 */
describe('an entity PATCH racing a reindex start', () => {
  let db: TestDatabase;
  let api: RunningApi;
  let prefix: string;
  const call = async (method: string, path: string, body?: unknown) => {
    const res = await fetch(api.url + path, {
      method,
      headers: body === undefined ? {} : { 'content-type': 'application/json' },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    const text = await res.text();
    return { status: res.status, body: text ? JSON.parse(text) : null };
  };

  beforeAll(async () => {
    db = await createTestDatabase();
    prefix = testPrefix();
    api = await startApi(
      readEnv({ KDB_DATABASE_URL: db.url, KDB_REDIS_URL: redisUrl(), KDB_QUEUE_PREFIX: prefix, KDB_AUTH: 'disabled', KDB_PORT: '0', KDB_LOG_LEVEL: 'silent', KDB_EMBEDDING_PROVIDER: 'hash' }),
    );
    await call('POST', '/v1/entities', { name: 'notes', fields: { a: 'text', b: 'text' }, embedFields: ['a'] });
  });
  afterAll(async () => {
    await api.close();
    await obliterateQueues(prefix);
    await db.close();
  });

  it('never answers 409 after committing the embedFields change, and never leaves the change without its recompute run', async () => {
    const broken: string[] = [];
    for (let round = 0; round < 40; round += 1) {
      const before = (await call('GET', '/v1/entities/notes')).body.embedFields as string[];
      const next = before.length === 1 ? ['a', 'b'] : ['a'];
      // The reindex start lands at a varying point of the PATCH.
      const [patch] = await Promise.all([
        call('PATCH', '/v1/entities/notes', { embedFields: next }),
        new Promise((r) => setTimeout(r, round % 4)).then(() => call('POST', '/v1/reindex', { entity: 'notes' })),
      ]);
      const after = (await call('GET', '/v1/entities/notes')).body.embedFields as string[];
      if (patch.status === 409 && after.join() !== before.join()) broken.push(`round ${round}: 409 after the change committed`);
      if (patch.status === 200 && !(patch.body.reindex?.recompute === true)) broken.push(`round ${round}: 200 without a recompute run`);
      if (patch.status !== 200 && patch.status !== 409) broken.push(`round ${round}: ${patch.status} ${JSON.stringify(patch.body)}`);
      const runs = (await call('GET', '/v1/reindex')).body.runs as { id: string; state: string }[];
      for (const r of runs.filter((r) => r.state === 'queued' || r.state === 'planning' || r.state === 'running')) await call('POST', `/v1/reindex/${r.id}/cancel`);
    }
    expect(broken).toEqual([]);
  });
});
