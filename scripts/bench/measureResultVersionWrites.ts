/**
 * A hand measurement behind a design decision (docs/decisions/result-cache-versions.md),
 * not a benchmark: `node --conditions=source --import tsx scripts/bench/measureResultVersionWrites.ts [records] [turns]`
 * starts an API process (no workers) on a fresh database and times NDJSON ingest
 * requests of `records` records until their 202, with the result-version triggers
 * of sql/000012 enabled and disabled, alternating request by request.
 */
import pg from 'pg';
import { startApiProcess, stopAll } from '../../test-support/processes.js';
import { deleteRedisKeys, dropDatabase, freshDatabase, p50p95, REDIS } from './harness.js';
import { ndjsonOf } from './ingestRecord.js';

const n = Number(process.argv[2] ?? 2000);
const turns = Number(process.argv[3] ?? 8);
const db = `kdb_bench_rv_${process.pid}`;
const prefix = `{kdbbench-rv-${process.pid}}`;
const url = await freshDatabase(db);
const api = await startApiProcess({ KDB_DATABASE_URL: url, KDB_REDIS_URL: REDIS, KDB_QUEUE_PREFIX: prefix, KDB_AUTH: 'disabled' });
const c = new pg.Client({ connectionString: url });
await c.connect();
const triggers = async (on: boolean) => {
  for (const t of ['kdb_records', 'kdb_search', 'kdb_postings']) {
    for (const suffix of ['ins', 'upd', 'del']) await c.query(`ALTER TABLE ${t} ${on ? 'ENABLE' : 'DISABLE'} TRIGGER ${t}_rv_${suffix}`);
  }
};
try {
  await fetch(`${api.url}/v1/entities`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ name: 'bench', fields: { title: 'text', body: 'text' }, embedFields: ['title', 'body'] }),
  });
  const times = { on: [] as number[], off: [] as number[] };
  let from = 0;
  // One warm-up request each way, then the turns.
  for (let i = -1; i < turns; i++) {
    for (const mode of ['on', 'off'] as const) {
      await triggers(mode === 'on');
      const body = ndjsonOf(from, n);
      from += n;
      const t = performance.now();
      const res = await fetch(`${api.url}/v1/entities/bench/records`, { method: 'POST', headers: { 'content-type': 'application/x-ndjson' }, body });
      if (res.status !== 202) throw new Error(`ingest answered ${res.status}: ${await res.text()}`);
      if (i >= 0) times[mode].push(performance.now() - t);
    }
  }
  await triggers(true);
  const med = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
  process.stdout.write(
    `${turns} requests of ${n} records each way: triggers on p50/p95 ${p50p95(times.on, 0)} ms, off ${p50p95(times.off, 0)} ms; median ratio on/off ${(med(times.on) / med(times.off)).toFixed(3)}\n`,
  );
} finally {
  await c.end();
  await stopAll([api]);
  await deleteRedisKeys(prefix);
  await dropDatabase(db);
}
