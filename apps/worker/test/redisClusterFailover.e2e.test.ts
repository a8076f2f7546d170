import { describe, expect, it } from 'vitest';
import { HashProvider, vectorTable } from '@kameleondb/core';
import { test } from '../../../test-support/fixtures.js';
import { until } from '../../../test-support/http.js';
import type { Pipeline } from '../../../test-support/startPipeline.js';
import { readVectors } from '../../../test-support/testDatabase.js';

const N = 20_000;
const KEY = 'cluster-failover-test-key-0123456789';

// Small jobs so the ingest spans many batches on both sides of the failover; a
// short lock so a job whose lock was lost comes back quickly; a quick sweeper
// for rows whose job Redis did not take.
test.override('pipelineOptions', {
  workers: 2,
  redis: 'cluster',
  env: { KDB_API_KEY: KEY, KDB_EMBEDDING_MAX_INPUTS: '256', KDB_JOB_LOCK_MS: '5000', KDB_SWEEP_AFTER: '5s', KDB_SWEEP_EVERY: '2s' },
  apiEnv: { KDB_JOB_SIZE: '256' },
});

interface Node {
  id: string;
  port: number;
  role: 'master' | 'slave';
  masterId: string;
  slots: [number, number][];
}

function parseNodes(text: string): Node[] {
  return text
    .trim()
    .split('\n')
    .map((line) => {
      const [id, addr, flags, masterId, , , , , ...slots] = line.split(' ');
      return {
        id: id!,
        port: Number(/:(\d+)@/.exec(addr!)![1]),
        role: flags!.includes('master') ? 'master' : 'slave',
        masterId: masterId!,
        slots: slots.filter((s) => /^\d/.test(s)).map((s) => (s.includes('-') ? (s.split('-').map(Number) as [number, number]) : [Number(s), Number(s)])),
      } satisfies Node;
    });
}

describe('a Redis Cluster master failover in the middle of an ingest', () => {
  let p: Pipeline;
  test.beforeAll(async ({ pipeline }) => {
    p = pipeline;
  });

  it('loses nothing: CLUSTER FAILOVER on the replica of the queue slot\'s master, and all 20,000 end ready, correct, none duplicated', async () => {
    const cluster = p.cluster!;
    const seed = cluster.node(Number(new URL(cluster.urls[0]!).port));
    const nodes = async () => parseNodes(String(await seed.cluster('NODES')));
    const slot = Number(await seed.cluster('KEYSLOT', `${p.prefix}:embed:wait`));
    const before = await nodes();
    const master = before.find((n) => n.role === 'master' && n.slots.some(([lo, hi]) => slot >= lo && slot <= hi))!;
    const replica = before.find((n) => n.role === 'slave' && n.masterId === master.id)!;
    expect(master && replica).toBeTruthy();

    await p.call('POST', '/v1/entities', { name: 'logs', fields: { line: 'text' }, embedFields: ['line'] });
    const res = await p.call<{ ids: string[]; enqueueError?: string }>('POST', '/v1/entities/logs/records', Array.from({ length: N }, (_, i) => ({ line: `log line ${i} level ${i % 5}` })));
    expect(res.status).toBe(202);
    expect(res.body.enqueueError).toBeUndefined();
    const ids = res.body.ids;
    expect(new Set(ids).size).toBe(N);
    const ready = async () => Number((await p.db.pool.query(`SELECT count(*) FROM kdb_search WHERE status = 'ready'`)).rows[0].count);

    await until(async () => (await ready()) >= 2000, 120_000, 20);
    const replicaConn = cluster.node(replica.port);
    expect(await replicaConn.cluster('FAILOVER')).toBe('OK');
    const atFailover = await ready();
    expect(atFailover).toBeLessThan(N);
    // The replica now serves the queue's slot; the old master follows it.
    await until(async () => {
      const now = await nodes();
      const promoted = now.find((n) => n.id === replica.id)!;
      return promoted.role === 'master' && promoted.slots.some(([lo, hi]) => slot >= lo && slot <= hi) && now.find((n) => n.id === master.id)!.role === 'slave';
    }, 30_000, 100);
    replicaConn.disconnect();
    seed.disconnect();

    await until(async () => (await ready()) >= N, 240_000, 250);
    const provider = new HashProvider();
    const rows = await readVectors(p.db.pool, ids);
    expect(rows.size).toBe(N);
    expect([...rows.values()].filter((r) => r.status !== 'ready')).toEqual([]);
    ids.forEach((id, i) => {
      const row = rows.get(id)!;
      expect(row.content).toBe(`line: log line ${i} level ${i % 5}`);
      expect(row.vector).toEqual(Array.from(provider.embedOne(row.content)));
    });
    // None duplicated: one record, one search row and one vector per id.
    const { rows: space } = await p.db.pool.query<{ id: number }>(`SELECT id FROM kdb_embedding_spaces WHERE state = 'active'`);
    const counts = await p.db.pool.query<{ records: number; search: number; vectors: number; distinct_vectors: number }>(
      `SELECT (SELECT count(*)::int FROM kdb_records) AS records, (SELECT count(*)::int FROM kdb_search) AS search,
              (SELECT count(*)::int FROM ${vectorTable(space[0]!.id)}) AS vectors, (SELECT count(DISTINCT record_id)::int FROM ${vectorTable(space[0]!.id)}) AS distinct_vectors`,
    );
    expect(counts.rows[0]).toEqual({ records: N, search: N, vectors: N, distinct_vectors: N });

    // The dashboard reads the queues through the Cluster client too, after the failover.
    const board = await fetch(`${p.api.url}/admin/queues/api/queues`, { headers: { authorization: `Bearer ${KEY}` } });
    expect(board.status).toBe(200);
    const embed = ((await board.json()) as { queues: { name: string; counts: Record<string, number> }[] }).queues.find((q) => q.name === 'embed')!;
    expect(embed.counts.completed).toBeGreaterThan(0);
    expect(embed.counts).toMatchObject({ waiting: 0, active: 0 });
  });
});
