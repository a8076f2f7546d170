import type { Queue } from 'bullmq';
import { afterAll, describe, expect, it } from 'vitest';
import { readEnv } from '../src/env.js';
import { startApi, type RunningApi } from '../src/startApi.js';
import { test } from '../../../test-support/fixtures.js';
import { redisUrl } from '../../../test-support/urls.js';
import { send } from '../../../test-support/http.js';

const KEY = 'dashboard-csrf-key-0123456789';
const BASIC = { authorization: `Basic ${Buffer.from(`ops:${KEY}`).toString('base64')}` };
const ADD = '/admin/queues/api/queues/embed/add';
const JOB = JSON.stringify({ name: 'junk', data: { nothing: true } });

describe('Bull Board mutations through real HTTP: same origin and JSON only', () => {
  let writable: RunningApi;
  let byDefault: RunningApi;
  let queue: Queue;
  const jobs = async () => Object.values(await queue.getJobCounts()).reduce((a, b) => a + b, 0);

  test.beforeAll(async ({ db, prefix, queues }) => {
    const env = { KDB_DATABASE_URL: db.url, KDB_REDIS_URL: redisUrl(), KDB_QUEUE_PREFIX: prefix, KDB_API_KEY: KEY, KDB_PORT: '0', KDB_LOG_LEVEL: 'silent', KDB_EMBEDDING_PROVIDER: 'hash' };
    writable = await startApi(readEnv({ ...env, KDB_DASHBOARD_READ_ONLY: 'false' }));
    byDefault = await startApi(readEnv(env));
    queue = queues.embed;
  });
  afterAll(async () => {
    await writable?.close();
    await byDefault?.close();
  });

  it('refuses a cross-site add-job post with cached Basic credentials (403), whatever its content type', async () => {
    const before = await jobs();
    const evil = { ...BASIC, origin: 'http://evil.example' };
    const simple = await send(writable.url, 'POST', ADD, { headers: { ...evil, 'content-type': 'text/plain' }, body: JOB });
    expect(simple.status).toBe(403);
    expect(simple.body.error.message).toMatch(/cross-site request refused/);
    expect((await send(writable.url, 'POST', ADD, { headers: { ...evil, 'content-type': 'application/x-www-form-urlencoded' }, body: 'name=junk' })).status).toBe(403);
    expect((await send(writable.url, 'POST', ADD, { headers: { ...evil, 'content-type': 'application/json' }, body: JOB })).status).toBe(403);
    expect((await send(writable.url, 'POST', ADD, { headers: { ...BASIC, 'sec-fetch-site': 'cross-site', 'content-type': 'application/json' }, body: JOB })).status).toBe(403);
    expect((await send(writable.url, 'POST', ADD, { headers: { ...BASIC, referer: 'http://evil.example/page', 'content-type': 'text/plain' }, body: JOB })).status).toBe(403);
    expect((await send(writable.url, 'PUT', '/admin/queues/api/queues/embed/retry/failed', { headers: { ...BASIC, origin: 'null' } })).status).toBe(403);
    // Same origin but not JSON: refused as well.
    const own = { ...BASIC, origin: writable.url, 'sec-fetch-site': 'same-origin' };
    expect((await send(writable.url, 'POST', ADD, { headers: { ...own, 'content-type': 'text/plain' }, body: JOB })).status).toBe(415);
    expect(await jobs()).toBe(before);
    // The dashboard page itself (same origin, JSON) may add a job when it is not read-only.
    const ok = await send(writable.url, 'POST', ADD, { headers: { ...own, 'content-type': 'application/json' }, body: JOB });
    expect(ok.status).toBe(200);
    expect(await jobs()).toBe(before + 1);
    // Reading stays open to the logged-in operator.
    expect((await send(writable.url, 'GET', '/admin/queues/api/queues', { headers: { ...BASIC, origin: 'http://evil.example' } })).status).toBe(200);
  });

  it('is read-only unless KDB_DASHBOARD_READ_ONLY=false', async () => {
    expect(readEnv({ KDB_AUTH: 'disabled' }).KDB_DASHBOARD_READ_ONLY).toBe(true);
    const before = await jobs();
    const own = { ...BASIC, origin: byDefault.url, 'content-type': 'application/json' };
    const r = await send(byDefault.url, 'POST', ADD, { headers: own, body: JOB });
    expect(r.status).toBe(405);
    expect(await jobs()).toBe(before);
  });
});
