/**
 * `pnpm bench:reindex [records]`: reindex runs over N records (default
 * 100,000; hash provider, 2 worker processes): a forced reindex of unchanged
 * records (cache hit rate, wall time), a reindex after 30% of the texts
 * changed, how often a polling client sees progress change, and cancel
 * latency (cancel call → last row written). Rewrites its BENCHMARKS.md section.
 */
import pg from 'pg';
import { deleteRedisKeys, dropDatabase, freshDatabase, machine, now, REDIS, startStack, stop, waitCompacted, writeSection } from './harness.js';

const N = Number(process.argv[2] ?? 100_000);
const dbName = `kdb_bench_reindex_${process.pid}`;
const dbUrl = await freshDatabase(dbName);
const env = { KDB_DATABASE_URL: dbUrl, KDB_REDIS_URL: REDIS, KDB_QUEUE_PREFIX: `{kdbbench-r-${process.pid}}`, KDB_AUTH: 'disabled' };
const { url, api, workers } = await startStack(env, 2);
const call = async (method: string, path: string, body?: unknown) => {
  const res = await fetch(url + path, { method, headers: { 'content-type': 'application/json' }, ...(body ? { body: JSON.stringify(body) } : {}) });
  return res.json() as Promise<any>;
};
const db = new pg.Client({ connectionString: dbUrl });
await db.connect();

process.stderr.write(`ingesting ${N}…\n`);
await call('POST', '/v1/entities', { name: 'bench', fields: { title: 'text', body: 'text' }, embedFields: ['title', 'body'] });
let nd = '';
for (let i = 0; i < N; i++) nd += `${JSON.stringify({ title: `Record ${i}`, body: `reindex benchmark text ${i % 1000} detail ${i}` })}\n`;
await fetch(`${url}/v1/entities/bench/records?wait=true`, { method: 'POST', headers: { 'content-type': 'application/x-ndjson' }, body: nd });
// Runs start from the steady state: the load's vector segment built (a background build would share the CPU).
await waitCompacted(db);

/** Runs a reindex to its end, polling every 100 ms; returns the run, wall time and the gaps between progress changes. */
async function runToEnd(body: unknown) {
  const t0 = performance.now();
  const { id } = await call('POST', '/v1/reindex', body);
  const changes: number[] = [];
  let last = -1;
  let lastChange = performance.now();
  for (;;) {
    const r = await call('GET', `/v1/reindex/${id}`);
    if (r.processed !== last) {
      if (last >= 0) changes.push(performance.now() - lastChange);
      last = r.processed;
      lastChange = performance.now();
    }
    if (['completed', 'cancelled', 'failed'].includes(r.state)) return { run: r, wallS: (performance.now() - t0) / 1000, changes };
    await new Promise((res) => setTimeout(res, 100));
  }
}
const median = (xs: number[]) => (xs.length ? [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]! : NaN);

process.stderr.write('forced reindex of unchanged records…\n');
const forced = await runToEnd({ entity: 'bench', force: true });

process.stderr.write('reindex after 30% changed…\n');
const changed = Math.round(N * 0.3);
await db.query(
  `UPDATE kdb_search SET content = content || ' changed', content_hash = encode(sha256(convert_to(content || ' changed', 'UTF8')), 'hex')
    WHERE record_id IN (SELECT record_id FROM kdb_search ORDER BY md5(record_id::text) LIMIT $1)`,
  [changed],
);
const partial = await runToEnd({ entity: 'bench' });

process.stderr.write('cancel latency…\n');
await db.query(
  `UPDATE kdb_search SET content = content || ' again', content_hash = encode(sha256(convert_to(content || ' again', 'UTF8')), 'hex')
    WHERE record_id IN (SELECT record_id FROM kdb_search ORDER BY md5(record_id::text) LIMIT $1)`,
  [changed],
);
const { id: cancelId } = await call('POST', '/v1/reindex', { entity: 'bench' });
for (;;) {
  const r = await call('GET', `/v1/reindex/${cancelId}`);
  if (r.processed >= changed / 5) break;
  await new Promise((res) => setTimeout(res, 50));
}
await call('POST', `/v1/reindex/${cancelId}/cancel`);
const cancelReturned = (await db.query<{ t: Date }>('SELECT clock_timestamp() AS t')).rows[0]!.t;
await new Promise((res) => setTimeout(res, 3000));
const lastWrite = (await db.query<{ t: Date | null }>('SELECT max(updated_at) AS t FROM kdb_search')).rows[0]!.t!;
const cancelLatencyMs = Math.max(0, lastWrite.getTime() - cancelReturned.getTime());

await db.end();
await stop([api, ...workers]);
await deleteRedisKeys(env.KDB_QUEUE_PREFIX);
await dropDatabase(dbName);

const hitRate = (r: { cached: number; embedded: number }) => (100 * r.cached) / Math.max(r.cached + r.embedded, 1);
await writeSection('reindex', [
  '## Reindex (`pnpm bench:reindex`)',
  '',
  `Run ${now()} on ${await machine()}. ${N.toLocaleString('en')} records, hash provider, 2 worker processes, a client polling \`GET /v1/reindex/:id\` every 100 ms; runs start after the load's vector segment is built.`,
  '',
  '| run | rows processed | embedded by provider | from cache | cache hit rate | wall time (s) | rows/s | median gap between progress changes seen by the client (ms) |',
  '|---|---:|---:|---:|---:|---:|---:|---:|',
  `| forced, nothing changed | ${forced.run.processed} | ${forced.run.embedded} | ${forced.run.cached} | ${hitRate(forced.run).toFixed(2)}% | ${forced.wallS.toFixed(2)} | ${Math.round(forced.run.processed / forced.wallS)} | ${median(forced.changes).toFixed(0)} |`,
  `| after 30% of texts changed | ${partial.run.processed} | ${partial.run.embedded} | ${partial.run.cached} | ${hitRate(partial.run).toFixed(2)}% | ${partial.wallS.toFixed(2)} | ${Math.round(partial.run.processed / partial.wallS)} | ${median(partial.changes).toFixed(0)} |`,
  '',
  `Cancel latency: the last row write landed ${cancelLatencyMs} ms after the cancel call returned (a ${changed.toLocaleString('en')}-row run cancelled at ~20%; writes of run batches go in 256-row transactions with a cancel check before each).`,
]);
process.exit(0);
