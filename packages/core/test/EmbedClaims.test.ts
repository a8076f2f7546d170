import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createEntity, createRedis, EmbedClaims, HashProvider, type Entity, type RedisClient } from '@kameleondb/core';
import { embedBatch } from '../src/batching/embedBatch.js';
import { ingestTestRecords } from '../../../test-support/ingestTestRecords.js';
import { obliterateQueues, testPrefix } from '../../../test-support/queuePrefix.js';
import { createTestDatabase, readVectors, type TestDatabase } from '../../../test-support/testDatabase.js';
import { redisUrl } from '../../../test-support/urls.js';

/** The hash provider, slow enough that two batches' requests overlap, recording every input it is sent. */
class SlowProvider extends HashProvider {
  inputs: string[] = [];
  constructor(private readonly delayMs: number) {
    super({ maxInputs: 50 });
  }
  override async embed(texts: readonly string[]) {
    this.inputs.push(...texts);
    await sleep(this.delayMs);
    return super.embed(texts);
  }
}

describe('EmbedClaims', () => {
  let db: TestDatabase;
  let entity: Entity;
  let prefix: string;
  const connections: RedisClient[] = [];
  const hashesOf = async (ids: readonly string[]) =>
    (await db.pool.query<{ content_hash: string }>('SELECT content_hash FROM kdb_search WHERE record_id = ANY($1::uuid[])', [ids])).rows.map((r) => r.content_hash);
  const connect = () => {
    const c = createRedis(redisUrl());
    connections.push(c);
    return c;
  };

  beforeAll(async () => {
    db = await createTestDatabase();
    prefix = testPrefix();
    entity = await createEntity(db.pool, { name: 'docs', fields: { text: 'text' }, embedFields: ['text'] });
  });
  afterAll(async () => {
    await Promise.all(connections.map((c) => c.quit()));
    await obliterateQueues(prefix);
    await db.close();
  });

  it('claims a free text once, releases and renews only its own claims, frees a claim after its lease', async () => {
    const a = new EmbedClaims(connect(), prefix, { leaseMs: 300 });
    const b = new EmbedClaims(connect(), prefix, { leaseMs: 300 });
    expect(await a.claim('m:1:8', ['h1', 'h2'], 'A')).toEqual({ mine: ['h1', 'h2'], theirs: [] });
    expect(await b.claim('m:1:8', ['h2', 'h3'], 'B')).toEqual({ mine: ['h3'], theirs: ['h2'] });
    // Another model's text of the same hash is another claim.
    expect(await b.claim('m:2:8', ['h1'], 'B')).toEqual({ mine: ['h1'], theirs: [] });
    await b.release('m:1:8', ['h1', 'h2', 'h3'], 'B');
    expect(await b.claim('m:1:8', ['h1', 'h2', 'h3'], 'B')).toEqual({ mine: ['h3'], theirs: ['h1', 'h2'] });
    await a.release('m:1:8', ['h1'], 'A');
    expect(await b.claim('m:1:8', ['h1'], 'B')).toEqual({ mine: ['h1'], theirs: [] });
    // A renewed claim outlives its first lease; one left alone ends with it.
    await sleep(200);
    await a.renew('m:1:8', ['h2'], 'A');
    await sleep(200);
    expect(await b.claim('m:1:8', ['h2', 'h3'], 'C')).toEqual({ mine: ['h3'], theirs: ['h2'] });
    await sleep(350);
    expect(await b.claim('m:1:8', ['h2'], 'C')).toEqual({ mine: ['h2'], theirs: [] });
  });

  it('claims more texts than one round trip takes, in slices', async () => {
    const c = new EmbedClaims(connect(), prefix);
    const many = Array.from({ length: 5000 }, (_, i) => `x${i}`);
    expect((await c.claim('m:3:8', many, 'A')).mine).toHaveLength(5000);
    expect((await c.claim('m:3:8', many, 'B')).theirs).toHaveLength(5000);
    await c.release('m:3:8', many, 'A');
    expect((await c.claim('m:3:8', many, 'B')).mine).toHaveLength(5000);
  });

  it('Redis not answering: the caller embeds every text itself, within the bound; renew and release do not throw', async () => {
    const away = createRedis('redis://127.0.0.1:1');
    away.on('error', () => undefined);
    const warned: unknown[] = [];
    const c = new EmbedClaims(away, prefix, { redisTimeoutMs: 200, logger: { warn: (o: unknown) => warned.push(o) } as never });
    try {
      const started = Date.now();
      expect(await c.claim('m:4:8', ['h1', 'h2'], 'A')).toEqual({ mine: ['h1', 'h2'], theirs: [] });
      await c.renew('m:4:8', ['h1'], 'A');
      await c.release('m:4:8', ['h1'], 'A');
      expect(Date.now() - started).toBeLessThan(2000);
      expect(warned).toHaveLength(3);
    } finally {
      away.disconnect();
    }
  });

  it('refuses options out of range, naming the value', () => {
    expect(() => new EmbedClaims(connect(), prefix, { leaseMs: 5 })).toThrow(/leaseMs must be an integer from 100 to 3600000 ms, not 5/);
    expect(() => new EmbedClaims(connect(), prefix, { maxWaitMs: Number.NaN })).toThrow(/maxWaitMs .* not NaN/);
  });

  it('two batches holding the same texts at once call the provider once per text, and neither waits out the bound', async () => {
    const texts = Array.from({ length: 200 }, (_, i) => `shared text ${i}`);
    // The same texts on other rows, in the reverse order: each batch claims some that the other waits for.
    const first = await ingestTestRecords(db.pool, entity, texts.map((text) => ({ text })));
    const second = await ingestTestRecords(db.pool, entity, [...texts].reverse().map((text) => ({ text })));
    const provider = new SlowProvider(150);
    const opts = { leaseMs: 5000, maxWaitMs: 20_000, pollMs: 20 };
    const started = Date.now();
    const [a, b] = await Promise.all([
      embedBatch({ pool: db.pool, provider, ids: first, claims: new EmbedClaims(connect(), prefix, opts) }),
      embedBatch({ pool: db.pool, provider, ids: second, claims: new EmbedClaims(connect(), prefix, opts) }),
    ]);
    expect(Date.now() - started).toBeLessThan(10_000);
    expect(provider.inputs.length).toBe(200);
    expect(new Set(provider.inputs).size).toBe(200);
    expect(a.embedded + b.embedded).toBe(200);
    expect(a.cached + b.cached).toBe(200);
    expect(a.written + b.written).toBe(400);
    const rows = await readVectors(db.pool, [...first, ...second]);
    for (const row of rows.values()) {
      expect(row.status).toBe('ready');
      expect(row.vector).toEqual(Array.from(provider.embedOne(row.content)));
    }
  });

  it('a claim whose holder died holds a waiting batch up to its lease, not longer; the texts are embedded then', async () => {
    const texts = Array.from({ length: 30 }, (_, i) => `orphaned text ${i}`);
    const ids = await ingestTestRecords(db.pool, entity, texts.map((text) => ({ text })));
    const provider = new SlowProvider(0);
    const leaseMs = 1500;
    const claims = new EmbedClaims(connect(), prefix, { leaseMs, maxWaitMs: 60_000, pollMs: 20 });
    // A holder that never releases nor renews: a worker killed mid-batch.
    const hashes = await hashesOf(ids);
    expect((await claims.claim(provider.modelKey, hashes, 'dead-worker')).mine).toHaveLength(30);
    const claimedAt = Date.now();
    const r = await embedBatch({ pool: db.pool, provider, ids, claims });
    const waited = Date.now() - claimedAt;
    expect(waited).toBeGreaterThanOrEqual(leaseMs - 50);
    expect(waited).toBeLessThan(leaseMs + 1000);
    expect(r).toMatchObject({ written: 30, embedded: 30, cached: 0 });
    expect(provider.inputs).toHaveLength(30);
    expect(new Set(provider.inputs).size).toBe(30);
  });

  it('a live holder past maxWaitMs: the waiter embeds the text itself rather than stall', async () => {
    const ids = await ingestTestRecords(db.pool, entity, [{ text: 'held for ever' }]);
    const provider = new SlowProvider(0);
    const holder = new EmbedClaims(connect(), prefix, { leaseMs: 60_000 });
    expect((await holder.claim(provider.modelKey, await hashesOf(ids), 'slow-worker')).mine).toHaveLength(1);
    const started = Date.now();
    const r = await embedBatch({ pool: db.pool, provider, ids, claims: new EmbedClaims(connect(), prefix, { maxWaitMs: 500, pollMs: 20 }) });
    expect(Date.now() - started).toBeLessThan(2000);
    expect(r).toMatchObject({ written: 1, embedded: 1 });
  });
});
