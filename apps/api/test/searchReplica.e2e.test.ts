import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WAL_LSN_PATTERN } from '@kameleondb/schemas';
import { lsnBytes } from '@kameleondb/core';
import { startPipeline, type Pipeline } from '../../../test-support/startPipeline.js';
import { startStandby, type Standby } from '../../../test-support/standby.js';
import { createThrowawayCluster, type ThrowawayCluster } from '../../../test-support/throwawayCluster.js';
import { runCli } from '../../cli/test/runCli.js';

/** A port of the range this suite owns (5440-5449); the standby of this file. */
const PORT = 5441;
/** How long the standby holds back each commit: a search not asking `after` sees the past. */
const APPLY_DELAY_MS = 1500;

interface Answer {
  results: { id: string; data: Record<string, unknown> }[];
  servedBy: string;
  explain?: { server: { servedBy: string; role: string; reason: string; waitedMs: number; after: string | null } };
  error?: { message: string };
}

describe('search on a streaming replica (KDB_SEARCH_DATABASE_URL)', () => {
  let primary: ThrowawayCluster;
  let standby: Standby;
  let p: Pipeline;
  let replica: string;

  beforeAll(async () => {
    // The primary is a cluster of the file's own: the standby's base backup copies only what this test wrote,
    // not whatever else the shared server holds (a benchmark's database is tens of GB).
    primary = await createThrowawayCluster();
    standby = await startStandby(PORT, { primaryPort: primary.port });
    p = await startPipeline({
      postgres: primary.url('postgres'),
      workers: 1,
      env: { KDB_EMBEDDING_PROVIDER: 'hash' },
      apiEnv: async (db) => {
        await standby.waitForDatabase(db.name);
        replica = `127.0.0.1:${PORT}/${db.name}`;
        return { KDB_SEARCH_DATABASE_URL: standby.url(db.name), KDB_REPLICA_WAIT_MS: '15000', KDB_REPLICA_MAX_LAG: '60s' };
      },
    });
    const created = await p.call('POST', '/v1/entities', { name: 'notes', fields: { title: 'text', n: 'integer' }, embedFields: ['title'] });
    expect(created.status).toBe(201);
    expect(created.headers.get('kdb-commit-lsn')).toMatch(WAL_LSN_PATTERN);
    // From here on the standby holds each commit back, as a loaded replica would lag.
    await standby.query('postgres', `ALTER SYSTEM SET recovery_min_apply_delay = '${APPLY_DELAY_MS}ms'`);
    await standby.query('postgres', 'SELECT pg_reload_conf()');
  });
  afterAll(async () => {
    // Each one goes even when the one before fails to close (that failure still fails the file).
    try {
      await p?.close();
    } finally {
      try {
        await standby?.stop();
      } finally {
        await primary?.drop();
      }
    }
  });

  const search = (query: string, headers?: Record<string, string>) => p.call<Answer>('GET', `/v1/search?${query}`, undefined, headers);

  it('serves searches on the replica: its answer and explain name it, and the statements ran there', async () => {
    const ingest = await p.call('POST', '/v1/entities/notes/records?wait=true', [{ title: 'replica served walrus', n: 1 }]);
    const lsn = ingest.headers.get('kdb-commit-lsn')!;
    const res = await search(`q=walrus&entity=notes&explain=true&after=${lsn}`);
    expect(res.status).toBe(200);
    expect(res.body.servedBy).toBe(replica);
    expect(res.body.results.map((r) => r.id)).toEqual(ingest.body.ids);
    expect(res.body.explain!.server).toMatchObject({ servedBy: replica, role: 'replica', after: lsn });
    // The API's search sessions are on the standby.
    const sessions = await standby.query<{ n: number }>(p.db.name, "SELECT count(*)::int AS n FROM pg_stat_activity WHERE application_name = 'kameleondb-api-search'");
    expect(sessions[0]!.n).toBeGreaterThan(0);
    // consistency=primary keeps a search off the replicas.
    const primary = await search('q=walrus&entity=notes&explain=true&consistency=primary');
    expect(primary.body.servedBy).toBe('primary');
    expect(primary.body.explain!.server).toMatchObject({ role: 'primary', reason: 'consistency=primary' });
  });

  it('a search carrying the LSN of the ingest just answered finds every record of it; one without it reads the lagging replica', async () => {
    const records = Array.from({ length: 60 }, (_, i) => ({ title: `fjordquartz batch record ${i}`, n: i }));
    const ingest = await p.call('POST', '/v1/entities/notes/records', records);
    expect(ingest.status).toBe(202);
    const lsn = ingest.headers.get('kdb-commit-lsn')!;
    expect(lsn).toMatch(WAL_LSN_PATTERN);
    // Keyword postings are written in the ingest transaction: the records are searchable from its commit on.
    const stale = await search('q=fjordquartz&entity=notes&mode=keyword&limit=100');
    expect(stale.body.servedBy).toBe(replica);
    expect(stale.body.results).toHaveLength(0);
    const fresh = await search('q=fjordquartz&entity=notes&mode=keyword&limit=100&explain=true', { 'KDB-After-LSN': lsn });
    expect(fresh.status).toBe(200);
    expect(fresh.body.servedBy).toBe(replica);
    expect(fresh.body.explain!.server.reason).toBe('replica has replayed after');
    expect(fresh.body.explain!.server.waitedMs).toBeGreaterThan(0);
    expect(new Set(fresh.body.results.map((r) => r.id))).toEqual(new Set(ingest.body.ids));
  });

  it('every write answer carries KDB-Commit-LSN, and a search after it sees the write', async () => {
    const ingest = await p.call('POST', '/v1/entities/notes/records', [{ title: 'pelican one', n: 1 }, { title: 'pelican two', n: 2 }, { title: 'pelican three', n: 3 }]);
    const [a, b, c] = ingest.body.ids as string[];
    const lsns = [ingest.headers.get('kdb-commit-lsn')!];
    const patched = await p.call('PATCH', `/v1/entities/notes/records/${a}`, { title: 'cormorant one' });
    expect(patched.status).toBe(200);
    lsns.push(patched.headers.get('kdb-commit-lsn')!);
    const afterPatch = await search(`q=cormorant&entity=notes&mode=keyword&after=${lsns[1]}`);
    expect(afterPatch.body.results.map((r) => r.id)).toEqual([a]);

    const batch = await p.call('PATCH', '/v1/entities/notes/records', [{ id: b, title: 'cormorant two' }]);
    expect(batch.status).toBe(200);
    lsns.push(batch.headers.get('kdb-commit-lsn')!);
    const deleted = await p.call('DELETE', `/v1/entities/notes/records/${a}`);
    expect(deleted.status).toBe(204);
    lsns.push(deleted.headers.get('kdb-commit-lsn')!);
    const afterDelete = await search(`q=cormorant&entity=notes&mode=keyword&after=${lsns[3]}`);
    expect(afterDelete.body.servedBy).toBe(replica);
    expect(afterDelete.body.results.map((r) => r.id)).toEqual([b]);

    const batchDelete = await p.call('POST', '/v1/entities/notes/records/delete', { ids: [c] });
    expect(batchDelete.status).toBe(200);
    lsns.push(batchDelete.headers.get('kdb-commit-lsn')!);
    const afterBatchDelete = await search(`q=pelican&entity=notes&mode=keyword&after=${lsns[4]}`);
    expect(afterBatchDelete.body.results).toHaveLength(0);

    for (const lsn of lsns) expect(lsn).toMatch(WAL_LSN_PATTERN);
    // Positions only move forward.
    const bytes = lsns.map(lsnBytes);
    for (let i = 1; i < bytes.length; i++) expect(bytes[i]! > bytes[i - 1]!).toBe(true);
  });

  it('rejects a hostile after= or KDB-After-LSN with a 400 naming the allowed form, and one past the primary', async () => {
    const bad = ['abc', '0/0/0', 'ZZ/1', '1/123456789', '/', '-1/0', ' 0/0', `${'F'.repeat(5000)}/0`, '0x1/0'];
    for (const value of bad) {
      const res = await search(`q=walrus&after=${encodeURIComponent(value)}`);
      expect(res.status, value).toBe(400);
      expect(res.body.error!.message, value).toMatch(/after must be a WAL position such as 16\/B374D848/);
    }
    for (const value of ['nope', '0/1, 0/2']) {
      const res = await search('q=walrus', { 'KDB-After-LSN': value });
      expect(res.status, value).toBe(400);
      expect(res.body.error!.message).toMatch(/KDB-After-LSN header must be a WAL position/);
    }
    const future = await search('q=walrus&after=FFFFFFFF/FFFFFFFF');
    expect(future.status).toBe(400);
    expect(future.body.error!.message).toMatch(/past the primary's WAL position/);
    const consistency = await search('q=walrus&consistency=eventual');
    expect(consistency.status).toBe(400);
    expect(consistency.body.error!.message).toMatch(/consistency must be one of any, primary/);
    // The oldest position is always replayed.
    const oldest = await search('q=walrus&entity=notes&after=0/0');
    expect(oldest.status).toBe(200);
    expect(oldest.body.servedBy).toBe(replica);
  });

  it('reports lag in /readyz, /metrics and embeddings status; a replica stopped mid-test leaves rotation and searches go on', async () => {
    const ready = await p.call('GET', '/readyz');
    expect(ready.status).toBe(200);
    expect(ready.body.replicas).toEqual([expect.objectContaining({ name: replica, inRotation: true, reason: null, replayLsn: expect.stringMatching(WAL_LSN_PATTERN) })]);
    const metrics = await p.call('GET', '/metrics');
    expect(metrics.body).toContain(`kdb_replica_lag_bytes{replica="${replica}",process="api"}`);
    expect(metrics.body).toContain(`kdb_replica_lag_seconds{replica="${replica}",process="api"}`);
    expect(metrics.body).toContain(`kdb_replica_in_rotation{replica="${replica}",process="api"} 1`);
    expect(metrics.body).toMatch(new RegExp(`kdb_search_served_total\\{server="${replica.replace(/[/.]/g, '\\$&')}",process="api"\\} [1-9]`));
    const status = await p.call('GET', '/v1/embeddings/status');
    expect(status.body.replicas).toEqual([expect.objectContaining({ name: replica, inRotation: true, lagBytes: expect.any(Number), lagSeconds: expect.any(Number) })]);

    // The CLI prints the replica beside the entities.
    const cli = await runCli(['embeddings', 'status'], { KDB_API_URL: p.api.url });
    expect(cli.code, cli.stderr).toBe(0);
    expect(cli.stdout).toMatch(new RegExp(`SEARCH REPLICA\\s+IN ROTATION\\s+LAG BYTES\\s+LAG S\\s+REPLAYED\\s+WHY OUT\\n${replica.replace(/[/.]/g, '\\$&')}\\s+yes\\s+\\d+\\s+[\\d.]+\\s+[0-9A-F]+/[0-9A-F]+`));

    const answers: Answer[] = [];
    let stop: Promise<void> | undefined;
    for (let i = 0; i < 60; i++) {
      const res = await search(`q=walrus&entity=notes&mode=keyword`);
      expect(res.status, JSON.stringify(res.body)).toBe(200);
      answers.push(res.body);
      if (i === 5) stop = standby.stop();
      if (i > 5 && stop) await stop;
      if (i > 20 && answers.slice(-5).every((a) => a.servedBy === 'primary')) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    expect(answers[0]!.servedBy).toBe(replica);
    // Every search found the record, on the replica or, once it was gone, on the primary.
    for (const a of answers) expect(a.results).toHaveLength(1);
    expect(answers.slice(-5).map((a) => a.servedBy)).toEqual(Array(5).fill('primary'));
    const after = await p.call('GET', '/readyz');
    expect(after.status).toBe(200);
    expect(after.body.ready).toBe(true);
    expect(after.body.replicas[0]).toMatchObject({ name: replica, inRotation: false, reason: expect.stringMatching(/did not answer|failed during a search/) });
    const outMetrics = await p.call('GET', '/metrics');
    expect(outMetrics.body).toContain(`kdb_replica_in_rotation{replica="${replica}",process="api"} 0`);
    // A search asking `after` with no replica in rotation: the primary, at once.
    const ingest = await p.call('POST', '/v1/entities/notes/records', [{ title: 'gannet', n: 9 }]);
    const rw = await search(`q=gannet&entity=notes&mode=keyword&explain=true&after=${ingest.headers.get('kdb-commit-lsn')}`);
    expect(rw.body.servedBy).toBe('primary');
    expect(rw.body.explain!.server.reason).toBe('no replica in rotation');
    expect(rw.body.results.map((r) => r.id)).toEqual(ingest.body.ids);
  });
});
