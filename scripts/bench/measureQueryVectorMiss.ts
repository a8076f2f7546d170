/**
 * A hand measurement behind a design decision (docs/decisions/), not a benchmark:
 * `KDB_BENCH_DB=<a database of KDB_BENCH_KEEP=1 pnpm bench:ingest> node --conditions=source --import tsx scripts/bench/measureQueryVectorMiss.ts <run number>`
 * starts an API process on that database (its `bench` entity, records of
 * ingestRecord.ts) and sends hybrid searches one at a time, 10 s per phase:
 * query texts it has seen (their vectors in the API's in-process cache)
 * against texts it has not (embedded, looked up in and written to the
 * embedding cache), alternately. Texts are new only once per database: give
 * every run its own number (sets 10n+1 and 10n+2).
 */
import { startApiProcess, stopAll } from '../../test-support/processes.js';
import { dbUrl, deleteRedisKeys, getJson, p50p95, REDIS } from './harness.js';
import { subjectWord, SUBJECTS } from './ingestRecord.js';

const dbName = process.env.KDB_BENCH_DB;
if (!dbName) throw new Error('set KDB_BENCH_DB to a database kept by KDB_BENCH_KEEP=1 pnpm bench:ingest');
// New texts must be new to the database too (the embedding cache keeps them): give each run its own.
const base = 10 * Number(process.argv[2] ?? 1);
const prefix = `{kdbbench-q-${process.pid}}`;
const api = await startApiProcess({ KDB_DATABASE_URL: dbUrl(dbName), KDB_REDIS_URL: REDIS, KDB_QUEUE_PREFIX: prefix, KDB_AUTH: 'disabled' });

/** Query texts of set `set`: the live searches' form of bench:ingest; each set's texts differ from every other set's. */
const text = (set: number, q: number) => `${subjectWord((q * 13 + set * 17) % SUBJECTS, (q + set) % 20)} detail ${(q * 7919 + set) % 100_000}`;
async function phase(label: string, set: number): Promise<void> {
  const client: number[] = [];
  const took: number[] = [];
  const t0 = performance.now();
  for (let q = 0; performance.now() - t0 < 10_000; q++) {
    const t = performance.now();
    const a = await getJson<{ took_ms: number }>(`${api.url}/v1/search?cache=false&entity=bench&q=${encodeURIComponent(text(set, q))}`);
    client.push(performance.now() - t);
    took.push(a.took_ms);
  }
  process.stdout.write(`${label.padEnd(24)} ${String(client.length).padStart(5)} searches  client p50 / p95 ${p50p95(client)}  took_ms ${p50p95(took)}\n`);
}
try {
  await phase('warm-up (set 0)', 0);
  await phase('seen (set 0)', 0);
  await phase(`new (set ${base + 1})`, base + 1);
  await phase('seen (set 0)', 0);
  await phase(`new (set ${base + 2})`, base + 2);
  await phase(`seen (set ${base + 2})`, base + 2);
} finally {
  await stopAll([api]);
  await deleteRedisKeys(prefix);
}
