/**
 * A hand measurement behind a design decision (docs/decisions/segment-entity-rows.md), not a benchmark:
 * `node --conditions=source --import tsx scripts/bench/measureEntitySeqIndex.ts [records] [turns]`
 * runs the pipeline (an API and 2 workers, hash provider) on a fresh database per
 * turn, with the vector table's (entity, vector_seq) index kept or dropped, the
 * settings alternating: a first ingest of `records` until every row is ready,
 * then the same texts again as new records (their vectors copied from the cache
 * in the ingest transaction). The index is what every vector write maintains
 * beyond what it did before.
 */
import os from 'node:os';
import pg from 'pg';
import { ndjsonOf } from './ingestRecord.js';
import { dbUrl, deleteRedisKeys, dropDatabase, freshDatabase, REDIS, startStack, stop } from './harness.js';

const n = Number(process.argv[2] ?? 30_000);
const turns = Number(process.argv[3] ?? 3);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const times = new Map<string, { first: number[]; again: number[] }>([
  ['kept', { first: [], again: [] }],
  ['dropped', { first: [], again: [] }],
]);
for (let turn = 1; turn <= turns; turn++) for (const mode of turn % 2 ? ['kept', 'dropped'] : ['dropped', 'kept']) {
  const db = `kdb_measure_esi_${process.pid}_${turn}_${mode}`;
  const prefix = `{kdbesi-${process.pid}-${turn}-${mode}}`;
  await freshDatabase(db);
  let stack: Awaited<ReturnType<typeof startStack>> | undefined;
  const c = new pg.Client({ connectionString: dbUrl(db) });
  try {
    stack = await startStack({ KDB_DATABASE_URL: dbUrl(db), KDB_REDIS_URL: REDIS, KDB_QUEUE_PREFIX: prefix, KDB_AUTH: 'disabled' }, 2);
    await c.connect();
    if (mode === 'dropped') await c.query('DROP INDEX kdb_vectors_1_entity_seq_idx');
    await fetch(`${stack.url}/v1/entities`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ name: 'bench', fields: { title: 'text', body: 'text' }, embedFields: ['title', 'body'] }) });
    const phase = async (total: number) => {
      const t0 = performance.now();
      const res = await fetch(`${stack!.url}/v1/entities/bench/records`, { method: 'POST', headers: { 'content-type': 'application/x-ndjson' }, body: ndjsonOf(0, n) });
      if (res.status !== 202) throw new Error(`ingest answered ${res.status}: ${await res.text()}`);
      await res.arrayBuffer();
      for (;;) {
        const { rows } = await c.query<{ ready: number }>(`SELECT count(*) FILTER (WHERE status = 'ready')::int AS ready FROM kdb_search`);
        if (rows[0]!.ready === total) break;
        await sleep(25);
      }
      return (performance.now() - t0) / 1000;
    };
    const first = await phase(n);
    const again = await phase(2 * n);
    times.get(mode)!.first.push(first);
    times.get(mode)!.again.push(again);
    process.stdout.write(`turn ${turn}, index ${mode}: first ingest ${first.toFixed(2)} s, re-ingest ${again.toFixed(2)} s (load ${os.loadavg()[0]!.toFixed(1)})\n`);
  } finally {
    await c.end().catch(() => undefined);
    if (stack) await stop([stack.api, ...stack.workers]);
    await deleteRedisKeys(prefix);
    await dropDatabase(db);
  }
}
for (const [mode, t] of times) process.stdout.write(`${mode}: first ${t.first.map((x) => x.toFixed(2)).join(', ')} s; re-ingest ${t.again.map((x) => x.toFixed(2)).join(', ')} s\n`);
process.exit(0);
