import { countTokens } from 'gpt-tokenizer/encoding/cl100k_base';
import { createRedis } from '@kameleondb/core';
import { describe, expect, it } from 'vitest';
import { test } from '../../../test-support/fixtures.js';
import type { Pipeline } from '../../../test-support/startPipeline.js';
import { readVectors } from '../../../test-support/testDatabase.js';
import { until } from '../../../test-support/http.js';
import { keysMatching } from '../../../test-support/redisCluster.js';

const N = 3000;
const MAX_INPUTS = 100;

interface Run {
  id: string;
  state: string;
  total: number;
  processed: number;
  embedded: number;
  cached: number;
  failed: number;
  updatedAt: string;
}

test.override('pipelineOptions', { workers: 2, openai: true, env: { KDB_EMBEDDING_MAX_INPUTS: String(MAX_INPUTS), KDB_JOB_LOCK_MS: '3000' } });

describe('reindex runs (API + 2 worker processes, openai provider on a local wire-format server)', () => {
  let p: Pipeline;
  let db: Pipeline['db'];
  let fake: NonNullable<Pipeline['fake']>;
  let prefix: string;
  let call: Pipeline['call'];

  const finished = (id: string) =>
    until(async () => {
      const r = (await call<Run>('GET', `/v1/reindex/${id}`)).body;
      return ['completed', 'cancelled', 'failed'].includes(r.state) ? r : undefined;
    });

  /** Changes the text of `count` rows behind the pipeline's back, as a bulk SQL update would. */
  async function changeTexts(count: number, suffix: string): Promise<string[]> {
    const { rows } = await db.pool.query<{ content: string }>(
      `UPDATE kdb_search SET content = content || $2, content_hash = encode(sha256(convert_to(content || $2, 'UTF8')), 'hex')
        WHERE record_id IN (SELECT record_id FROM kdb_search WHERE entity = 'docs' ORDER BY md5(record_id::text) LIMIT $1)
        RETURNING content`,
      [count, suffix],
    );
    return rows.map((r) => r.content);
  }

  test.beforeAll(async ({ pipeline }) => {
    p = pipeline;
    ({ db, prefix, call } = p);
    fake = p.fake!;
    await call('POST', '/v1/entities', { name: 'docs', fields: { title: 'text', body: 'text' }, embedFields: ['title'] });
    await call('POST', '/v1/entities', { name: 'other', fields: { t: 'text' }, embedFields: ['t'] });
    const res = await call('POST', '/v1/entities/docs/records?wait=true', Array.from({ length: N }, (_, i) => ({ title: `doc ${i}`, body: `body ${i % 10}` })));
    expect(res.body.counts).toEqual({ ready: N, pending: 0, failed: 0 });
    await call('POST', '/v1/entities/other/records?wait=true', [{ t: 'x' }]);
  });

  it('force-reindexes unchanged records entirely from the cache: zero provider calls', async () => {
    fake.requests.length = 0;
    const entries = async () =>
      (await db.pool.query<{ text_hash: string; xmin: string; ctid: string }>('SELECT text_hash, xmin::text, ctid::text FROM kdb_embedding_cache ORDER BY text_hash')).rows;
    const hitsOf = async () => Number((await db.pool.query<{ n: string }>('SELECT sum(hits) AS n FROM kdb_embedding_cache_usage')).rows[0]!.n);
    const [entriesBefore, hitsBefore] = [await entries(), await hitsOf()];
    const started = await call<Run>('POST', '/v1/reindex', { entity: 'docs', force: true });
    expect(started.status).toBe(202);
    expect(started.body.state).toBe('queued');
    const run = await finished(started.body.id);
    expect(run).toMatchObject({ state: 'completed', total: N, processed: N, cached: N, embedded: 0, failed: 0 });
    expect(fake.requests).toHaveLength(0);
    // Every hit is counted on the usage rows; the entries' rows (their vectors) are not rewritten.
    expect((await hitsOf()) - hitsBefore).toBe(N);
    expect(await entries()).toEqual(entriesBefore);
  });

  it('dry run reports what a reindex would do, then the reindex embeds exactly the 30% changed', async () => {
    const changed = await changeTexts(0.3 * N, ' (edited)');
    const dry = await call('POST', '/v1/reindex', { entity: 'docs', dryRun: true });
    expect(dry.status).toBe(200);
    expect(dry.body).toMatchObject({
      rows: 900,
      distinctTexts: 900,
      cachedTexts: 0,
      textsToEmbed: 900,
      providerRequests: Math.ceil(900 / MAX_INPUTS),
      estimatedTokens: changed.reduce((n, t) => n + countTokens(t), 0),
      pricePerMillionTokens: 0.02,
    });
    expect(dry.body.estimatedCostUsd).toBeCloseTo((dry.body.estimatedTokens / 1e6) * 0.02, 6);
    // A dry run changes nothing.
    expect((await call('GET', '/v1/embeddings/status')).body.activeRuns).toEqual([]);

    const before = new Date();
    fake.requests.length = 0;
    const run = await finished((await call<Run>('POST', '/v1/reindex', { entity: 'docs' })).body.id);
    expect(run).toMatchObject({ state: 'completed', total: 900, processed: 900, embedded: 900, cached: 0 });
    expect(fake.requests.flatMap((r) => r.input).sort()).toEqual([...changed].sort());
    expect(Math.max(...fake.requests.map((r) => r.input.length))).toBeLessThanOrEqual(MAX_INPUTS);
    const { rows } = await db.pool.query(`SELECT count(*)::int AS n FROM kdb_search WHERE entity = 'docs' AND updated_at >= $1`, [before]);
    expect(rows[0].n).toBe(900);
    const sample = await db.pool.query<{ record_id: string }>(`SELECT record_id FROM kdb_search WHERE content LIKE '%(edited)' LIMIT 50`);
    for (const row of (await readVectors(db.pool, sample.rows.map((r) => r.record_id))).values()) {
      expect(row.vector).toEqual(Array.from(fake.vectorOf(row.content, 384)));
    }
  });

  it('allows one active run per entity or for all, answering 409 with the active run id', async () => {
    fake.delayMs = 200;
    await changeTexts(600, ' (again)');
    const first = await call<Run>('POST', '/v1/reindex', { entity: 'docs' });
    const second = await call('POST', '/v1/reindex', { entity: 'docs' });
    expect(second.status).toBe(409);
    expect(second.body.error).toMatchObject({ code: 'conflict', details: { activeRunId: first.body.id } });
    expect((await call('POST', '/v1/reindex', {})).body.error.details.activeRunId).toBe(first.body.id);
    expect((await call('POST', '/v1/reindex', { entity: 'nope' })).status).toBe(404);
    expect((await call('POST', '/v1/reindex', { entity: 'docs', force: 'yes' })).status).toBe(400);
    const status = await call('GET', '/v1/embeddings/status');
    expect(status.body.activeRuns.map((r: Run) => r.id)).toEqual([first.body.id]);
    // Progress moves while it runs, and is visible to a polling client.
    const seen = new Set<number>();
    const run = await until(async () => {
      const r = (await call<Run>('GET', `/v1/reindex/${first.body.id}`)).body;
      seen.add(r.processed);
      return r.state === 'completed' ? r : undefined;
    });
    fake.delayMs = 0;
    expect(run.processed).toBe(600);
    expect(seen.size).toBeGreaterThan(2);
    expect((await call('GET', '/v1/reindex')).body.runs[0].id).toBe(first.body.id);
  });

  it('cancels a run from another process: no row of it is written more than 1 s after the cancel returned', async () => {
    fake.delayMs = 300;
    await changeTexts(2000, ' (third)');
    const { id } = (await call<Run>('POST', '/v1/reindex', { entity: 'docs' })).body;
    await until(async () => (await call<Run>('GET', `/v1/reindex/${id}`)).body.processed >= 400);
    const cancelled = await call<Run>('POST', `/v1/reindex/${id}/cancel`);
    const { rows: t } = await db.pool.query<{ now: Date }>('SELECT clock_timestamp() AS now');
    expect(cancelled.body.state).toBe('cancelled');
    await new Promise((r) => setTimeout(r, 3000));
    fake.delayMs = 0;
    const late = await db.pool.query(`SELECT count(*)::int AS n FROM kdb_search WHERE updated_at > $1::timestamptz + interval '1 second'`, [t[0]!.now]);
    expect(late.rows[0].n).toBe(0);
    const run = (await call<Run>('GET', `/v1/reindex/${id}`)).body;
    expect(run.state).toBe('cancelled');
    expect(run.processed).toBeLessThan(2000);
    // Rows not reached keep their state; a later run picks them up.
    const stale = await call('POST', '/v1/reindex', { entity: 'docs', dryRun: true });
    expect(stale.body.rows).toBeGreaterThan(0);
    expect(stale.body.rows).toBeLessThanOrEqual(2000 - run.processed + 256);
    const next = await finished((await call<Run>('POST', '/v1/reindex', { entity: 'docs' })).body.id);
    expect(next.state).toBe('completed');
    expect((await call('POST', '/v1/reindex', { entity: 'docs', dryRun: true })).body.rows).toBe(0);
  });

  it('keeps finished runs in Postgres, so history survives losing Redis state', async () => {
    const run = await finished((await call<Run>('POST', '/v1/reindex', { entity: 'other', force: true })).body.id);
    const redis = createRedis(p.redis);
    const keys = await keysMatching(redis, `${prefix}:reindex-runs:*`);
    expect(keys.length).toBeGreaterThan(0);
    await redis.del(...keys);
    await redis.quit();
    expect((await call('GET', `/v1/reindex/${run.id}`)).body).toMatchObject({ id: run.id, state: 'completed', processed: 1, cached: 1 });
    const list = (await call('GET', '/v1/reindex')).body.runs as Run[];
    expect(list.length).toBeGreaterThanOrEqual(5);
    expect(list.map((r) => r.id)).toContain(run.id);
    const created = list.map((r) => (r as Run & { createdAt: string }).createdAt);
    expect(created).toEqual([...created].sort().reverse());
    expect((await call('GET', '/v1/reindex/00000000-0000-0000-0000-000000000000')).status).toBe(404);
  });

  it('recomputes texts and reindexes by itself when an entity\'s embedFields change', async () => {
    const patched = await call('PATCH', '/v1/entities/docs', { embedFields: ['title', 'body'] });
    expect(patched.status).toBe(200);
    expect(patched.body.embedFields).toEqual(['title', 'body']);
    expect(patched.body.reindex.id).toBeTruthy();
    const run = await finished(patched.body.reindex.id);
    expect(run).toMatchObject({ state: 'completed', total: N, processed: N });
    const { rows } = await db.pool.query(`SELECT count(*)::int AS n FROM kdb_search WHERE entity = 'docs' AND content LIKE '% | body: body %' AND status = 'ready'`);
    expect(rows[0].n).toBe(N);
    // Adding a field without touching embedFields starts nothing; changing a type is refused.
    const added = await call('PATCH', '/v1/entities/docs', { fields: { tag: 'string' } });
    expect(added.body).toMatchObject({ reindex: null, fields: { tag: 'string' } });
    expect((await call('PATCH', '/v1/entities/docs', { fields: { title: 'integer' } })).body.error.message).toMatch(/field "title" is text; a field's type cannot change/);
  });

  it('reports and clears the embedding cache', async () => {
    const cache = (await call('GET', '/v1/cache')).body;
    expect(cache.entries).toBeGreaterThan(N);
    expect(cache.bytes).toBeGreaterThan(0);
    expect(cache.models[0]).toMatchObject({ modelKey: 'openai:text-embedding-3-small:384' });
    expect(cache.hits).toBeGreaterThan(0);
    expect(cache.hitRate).toBeGreaterThan(0);
    await db.pool.query(`UPDATE kdb_embedding_cache_usage SET last_used_at = now() - interval '40 days' WHERE text_hash IN (SELECT text_hash FROM kdb_embedding_cache_usage LIMIT 10)`);
    expect((await call('DELETE', '/v1/cache?olderThan=30d')).body).toMatchObject({ deleted: 10, olderThan: '30d' });
    expect((await call('DELETE', '/v1/cache?olderThan=30x')).body.error.message).toMatch(/olderThan "30x" is not a duration/);
    expect((await call('DELETE', '/v1/cache?model=none:x:1')).body.deleted).toBe(0);
  });
});
