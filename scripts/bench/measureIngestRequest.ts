/**
 * A hand measurement behind a design decision (docs/decisions/), not a benchmark:
 * `node --conditions=source --import tsx scripts/bench/measureIngestRequest.ts [records]`
 * starts an API process (no workers) on a fresh database and times one NDJSON
 * request of the `bench:ingest` records until its 202.
 */
import { startApiProcess, stopAll } from '../../test-support/processes.js';
import { deleteRedisKeys, dropDatabase, freshDatabase, REDIS } from './harness.js';
import { ndjsonOf } from './ingestRecord.js';

const n = Number(process.argv[2] ?? 100_000);
const db = `kdb_bench_request_${process.pid}`;
const prefix = `{kdbbench-r-${process.pid}}`;
const api = await startApiProcess({ KDB_DATABASE_URL: await freshDatabase(db), KDB_REDIS_URL: REDIS, KDB_QUEUE_PREFIX: prefix, KDB_AUTH: 'disabled' });
try {
  await fetch(`${api.url}/v1/entities`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ name: 'bench', fields: { title: 'text', body: 'text' }, embedFields: ['title', 'body'] }),
  });
  const body = ndjsonOf(0, n);
  const t = performance.now();
  const res = await fetch(`${api.url}/v1/entities/bench/records`, { method: 'POST', headers: { 'content-type': 'application/x-ndjson' }, body });
  process.stdout.write(`${n} records: ${res.status} after ${((performance.now() - t) / 1000).toFixed(2)} s\n`);
} finally {
  await stopAll([api]);
  await deleteRedisKeys(prefix);
  await dropDatabase(db);
}
