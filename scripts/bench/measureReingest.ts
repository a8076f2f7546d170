/**
 * A hand measurement behind a design decision (docs/decisions/cache-hit-vectors-in-ingest-transaction.md),
 * not a benchmark:
 * `node --conditions=source --import tsx scripts/bench/measureReingest.ts [records] [turns] [on,off]`
 * runs bench:peer's setting of our pipeline (an API and 2 workers, the openai
 * provider against the local wire-format server at 0 ms) on a fresh database
 * per turn: a first ingest of `records`, then the same texts again as new
 * records. Each is split into the request (until its 202: the ingest
 * transaction and the enqueue) and the rest (until every row is ready: the
 * embed jobs through Redis and the workers), and the workers' own batch time
 * (their `embed batch` debug lines) is summed. The turns alternate over the
 * given KDB_INGEST_CACHED_VECTORS settings (default: on, then off).
 */
import pg from 'pg';
import { startFakeOpenAI } from '../../test-support/fakeOpenAI.js';
import { ndjsonOf } from './ingestRecord.js';
import { dbUrl, deleteRedisKeys, dropDatabase, freshDatabase, REDIS, startStack, stop } from './harness.js';

const n = Number(process.argv[2] ?? 30_000);
const turns = Number(process.argv[3] ?? 1);
const modes = (process.argv[4] ?? 'on,off').split(',');
const fake = await startFakeOpenAI();
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface Phase {
  requestS: number;
  untilReadyS: number;
  batches: number;
  batchMs: number;
  requests: number;
}

/** The workers' `embed batch` lines written since `from` characters of each output. */
function batchLines(outputs: string[], from: number[]): { batches: number; ms: number } {
  let batches = 0;
  let ms = 0;
  outputs.forEach((out, i) => {
    for (const line of out.slice(from[i]).split('\n')) {
      if (!line.includes('"msg":"embed batch"')) continue;
      batches += 1;
      ms += Number(/"ms":(\d+)/.exec(line)?.[1] ?? 0);
    }
  });
  return { batches, ms };
}

const ratios = new Map<string, number[]>(modes.map((m) => [m, []]));
for (let turn = 1; turn <= turns; turn++) for (const mode of modes) {
  const db = `kdb_measure_reingest_${process.pid}_${turn}_${mode}`;
  const prefix = `{kdbmr-${process.pid}-${turn}-${mode}}`;
  await freshDatabase(db);
  let stack: Awaited<ReturnType<typeof startStack>> | undefined;
  let c: pg.Client | undefined;
  try {
    stack = await startStack(
      {
        KDB_DATABASE_URL: dbUrl(db),
        KDB_REDIS_URL: REDIS,
        KDB_QUEUE_PREFIX: prefix,
        KDB_AUTH: 'disabled',
        KDB_EMBEDDING_PROVIDER: 'openai',
        KDB_EMBEDDING_DIMENSIONS: '384',
        OPENAI_API_KEY: 'sk-bench',
        OPENAI_BASE_URL: fake.url,
        KDB_LOG_LEVEL: 'debug',
        KDB_INGEST_CACHED_VECTORS: mode,
      },
      2,
    );
    c = new pg.Client({ connectionString: dbUrl(db) });
    await c.connect();
    const [s, client] = [stack, c];
    await fetch(`${s.url}/v1/entities`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'bench', fields: { title: 'text', body: 'text' }, embedFields: ['title', 'body'] }),
    });
    const phase = async (total: number): Promise<Phase> => {
      const from = s.workers.map((w) => w.output().length);
      const before = fake.requests.length;
      const body = ndjsonOf(0, n);
      const t0 = performance.now();
      const res = await fetch(`${s.url}/v1/entities/bench/records`, { method: 'POST', headers: { 'content-type': 'application/x-ndjson' }, body });
      if (res.status !== 202) throw new Error(`ingest answered ${res.status}: ${await res.text()}`);
      await res.arrayBuffer();
      const t1 = performance.now();
      for (;;) {
        const { rows } = await client.query<{ ready: number }>(`SELECT count(*) FILTER (WHERE status = 'ready')::int AS ready FROM kdb_search`);
        if (rows[0]!.ready === total) break;
        await sleep(25);
      }
      const t2 = performance.now();
      const b = batchLines(
        s.workers.map((w) => w.output()),
        from,
      );
      return { requestS: (t1 - t0) / 1000, untilReadyS: (t2 - t1) / 1000, batches: b.batches, batchMs: b.ms, requests: fake.requests.length - before };
    };
    const first = await phase(n);
    const again = await phase(2 * n);
    const show = (name: string, p: Phase) =>
      `${name}: ${(p.requestS + p.untilReadyS).toFixed(2)} s = request ${p.requestS.toFixed(2)} s + until ready ${p.untilReadyS.toFixed(2)} s; ${p.batches} worker batches, ${(p.batchMs / 1000).toFixed(2)} s of batch time, ${p.requests} provider requests`;
    const ratio = (again.requestS + again.untilReadyS) / (first.requestS + first.untilReadyS);
    ratios.get(mode)!.push(ratio);
    const load = (await import('node:os')).loadavg().map((x) => x.toFixed(1)).join(' ');
    process.stdout.write(`turn ${turn}, KDB_INGEST_CACHED_VECTORS=${mode}, ${n} records, load ${load}\n  ${show('first ingest', first)}\n  ${show('re-ingest   ', again)}\n  re-ingest ÷ first ingest ${ratio.toFixed(2)}×\n`);
  } catch (err) {
    process.stdout.write(`turn ${turn}, KDB_INGEST_CACHED_VECTORS=${mode}: FAILED ${String(err).split('\n')[0]}\n`);
  } finally {
    await c?.end();
    if (stack) await stop([stack.api, ...stack.workers]);
    await deleteRedisKeys(prefix);
    await dropDatabase(db);
  }
}
for (const [mode, xs] of ratios) process.stdout.write(`${mode}: ${xs.map((x) => `${x.toFixed(2)}×`).join(', ')}\n`);
await fake.close();
process.exit(0);
