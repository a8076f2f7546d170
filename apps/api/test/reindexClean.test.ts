import { describe, expect, it } from 'vitest';
import { createRedis } from '@kameleondb/core';
import { test } from '../../../test-support/fixtures.js';
import type { jsonClient } from '../../../test-support/http.js';
import type { TestDatabase } from '../../../test-support/testDatabase.js';
import { redisUrl } from '../../../test-support/urls.js';

/** `DELETE /v1/reindex?olderThan=7d` (`embeddings jobs --clean --older-than 7d`). No worker runs: a started run stays live. */
describe('cleaning reindex runs', () => {
  let db: TestDatabase;
  let call: ReturnType<typeof jsonClient>;
  let prefix: string;

  test.beforeAll(async ({ db: d, call: c, prefix: p }) => {
    [db, call, prefix] = [d, c, p];
    for (const name of ['Live', 'Recent', 'Old']) await call('POST', '/v1/entities', { name, fields: { t: 'text' }, embedFields: ['t'] });
  });

  it('deletes finished runs older than olderThan from Postgres and Redis, and never a live one', async () => {
    const live = (await call('POST', '/v1/reindex', { entity: 'Live' })).body;
    const recent = (await call('POST', '/v1/reindex', { entity: 'Recent' })).body;
    const old = (await call('POST', '/v1/reindex', { entity: 'Old' })).body;
    for (const r of [recent, old]) expect((await call('POST', `/v1/reindex/${r.id}/cancel`)).body.state).toBe('cancelled');
    // Ended ten days ago, as far as the history knows; the live one too, were its age the only test.
    await db.pool.query(`UPDATE kdb_reindex_runs SET created_at = now() - interval '11 days', finished_at = now() - interval '10 days' WHERE id = $1`, [old.id]);
    await db.pool.query(`UPDATE kdb_reindex_runs SET created_at = now() - interval '11 days' WHERE id = $1`, [live.id]);

    expect((await call('DELETE', '/v1/reindex?olderThan=7d')).body).toEqual({ deleted: 1 });
    expect((await call('GET', `/v1/reindex/${old.id}`)).status).toBe(404);
    const redis = createRedis(redisUrl());
    try {
      expect(await redis.exists(`${prefix}:reindex-runs:run:${old.id}`)).toBe(0);
      expect(await redis.zscore(`${prefix}:reindex-runs:runs`, old.id)).toBeNull();
      expect(await redis.exists(`${prefix}:reindex-runs:run:${recent.id}`)).toBe(1);
    } finally {
      await redis.quit();
    }
    const ids = (await call('GET', '/v1/reindex')).body.runs.map((r: { id: string }) => r.id);
    expect(ids).toContain(live.id);
    expect(ids).toContain(recent.id);
    expect(ids).not.toContain(old.id);

    // Everything finished goes with 0s; the live run stays, and still blocks its scope.
    expect((await call('DELETE', '/v1/reindex?olderThan=0s')).body).toEqual({ deleted: 1 });
    expect((await call('GET', '/v1/reindex')).body.runs.map((r: { id: string }) => r.id)).toEqual([live.id]);
    expect((await call('GET', `/v1/reindex/${live.id}`)).body.state).toBe('queued');
    expect((await call('POST', '/v1/reindex', { entity: 'Live' })).status).toBe(409);
    expect((await db.pool.query('SELECT id FROM kdb_reindex_runs')).rows).toEqual([{ id: live.id }]);
  });

  it('requires olderThan as a duration of at most a century', async () => {
    const missing = await call('DELETE', '/v1/reindex');
    expect(missing.status).toBe(400);
    expect(missing.body.error.message).toMatch(/olderThan is required/);
    expect((await call('DELETE', '/v1/reindex?olderThan=soon')).body.error.message).toMatch(/olderThan "soon" is not a duration: use a number and a unit/);
    expect((await call('DELETE', '/v1/reindex?olderThan=36501d')).body.error.message).toMatch(/longer than the most allowed, 36500d/);
    expect((await call('DELETE', '/v1/reindex?olderThan=7d&all=true')).body.error.message).toMatch(/unknown query parameter "all"/);
    expect((await db.pool.query('SELECT count(*)::int AS n FROM kdb_reindex_runs')).rows[0].n).toBe(1);
  });
});
