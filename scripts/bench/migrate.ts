/**
 * `pnpm bench:migrate [records]`: a migration of N records (default 100,000)
 * from the hash provider (384 dims) to the OpenAI provider at 256 dims
 * against the local wire-format server answering each request after 100 ms;
 * 2 worker processes. Measures, in the same run: search p95 idle and during
 * the build (a client searching one query at a time), the build's wall time
 * and provider requests, the switch back to the kept space, and a rebuild of
 * the dropped space through the embedding cache against the same rebuild
 * with the cache cleared (every text to the provider again). Rewrites its
 * BENCHMARKS.md section.
 */
import pg from 'pg';
import { startFakeOpenAI } from '../../test-support/fakeOpenAI.js';
import { deleteRedisKeys, dropDatabase, freshDatabase, getJson, machine, now, p50p95, percentile, REDIS, startStack, stop, waitCompacted, writeSection } from './harness.js';

const N = Number(process.argv[2] ?? 100_000);
const HASH = 'hash:feature-hash-v1:384';
const NEW = 'openai:text-embedding-3-small:256';
const fake = await startFakeOpenAI({ delayMs: 100 });
const dbName = `kdb_bench_migrate_${process.pid}`;
const dbUrl = await freshDatabase(dbName);
const env = { KDB_DATABASE_URL: dbUrl, KDB_REDIS_URL: REDIS, KDB_QUEUE_PREFIX: `{kdbbench-m-${process.pid}}`, KDB_AUTH: 'disabled', OPENAI_API_KEY: 'sk-bench' };
const { url, api, workers } = await startStack(env, 2);
const call = async (method: string, path: string, body?: unknown) => {
  const res = await fetch(url + path, { method, headers: { 'content-type': 'application/json' }, ...(body ? { body: JSON.stringify(body) } : {}) });
  return res.json() as Promise<any>;
};
const db = new pg.Client({ connectionString: dbUrl });
await db.connect();

process.stderr.write(`ingesting ${N}…\n`);
await call('POST', '/v1/entities', { name: 'bench', fields: { title: 'text', body: 'text' }, embedFields: ['title', 'body'] });
const text = (i: number) => ({ title: `Record ${i}`, body: `migration benchmark text ${i % 1000} about topic ${i % 97} detail ${i}` });
let nd = '';
for (let i = 0; i < N; i++) nd += `${JSON.stringify(text(i))}\n`;
await fetch(`${url}/v1/entities/bench/records?wait=true`, { method: 'POST', headers: { 'content-type': 'application/x-ndjson' }, body: nd });
await waitCompacted(db);

const searchOnce = async () => {
  const i = Math.floor(Math.random() * N);
  const t = performance.now();
  const a = await getJson<{ space: string }>(`${url}/v1/search?cache=false&q=${encodeURIComponent(`Record ${i} detail ${i}`)}&entities=bench&limit=10`);
  return { ms: performance.now() - t, space: a.space };
};
const idle: number[] = [];
for (let i = 0; i < 300; i++) idle.push((await searchOnce()).ms);

/** Builds space `body` to its switch while searching; returns wall time, search latencies, provider requests and inputs. */
async function build(body: Record<string, unknown>, key: string) {
  const before = { requests: fake.requests.length, inputs: fake.requests.reduce((n, r) => n + r.input.length, 0) };
  const t0 = performance.now();
  const started = await call('POST', '/v1/spaces', body);
  if (!started.run) throw new Error(`no build started: ${JSON.stringify(started)}`);
  const during: number[] = [];
  const spacesSeen = new Set<string>();
  for (;;) {
    const s = await searchOnce();
    if (s.space === key) break;
    during.push(s.ms);
    spacesSeen.add(s.space);
  }
  const wallS = (performance.now() - t0) / 1000;
  return {
    wallS,
    during,
    spacesSeen: [...spacesSeen],
    requests: fake.requests.length - before.requests,
    inputs: fake.requests.reduce((n, r) => n + r.input.length, 0) - before.inputs,
  };
}
const waitReady = async () => {
  for (;;) {
    const { rows } = await db.query<{ n: number }>(`SELECT count(*)::int AS n FROM kdb_search WHERE status <> 'ready'`);
    if (rows[0]!.n === 0) return;
    await new Promise((r) => setTimeout(r, 100));
  }
};

const openai = { provider: 'openai', model: 'text-embedding-3-small', dimensions: 256, baseUrl: fake.url };
process.stderr.write('migrating to the new space…\n');
const first = await build(openai, NEW);

process.stderr.write('switching back…\n');
const t = performance.now();
await call('POST', `/v1/spaces/${encodeURIComponent(HASH)}/activate`);
await waitReady();
const backMs = performance.now() - t;

process.stderr.write('rebuilding the dropped space through the cache…\n');
await call('DELETE', `/v1/spaces/${encodeURIComponent(NEW)}`);
const cached = await build(openai, NEW);
await call('POST', `/v1/spaces/${encodeURIComponent(HASH)}/activate`);
await waitReady();
await call('DELETE', `/v1/spaces/${encodeURIComponent(NEW)}`);
await call('DELETE', `/v1/cache?model=${encodeURIComponent(NEW)}`);
process.stderr.write('rebuilding it with the cache cleared…\n');
const forced = await build(openai, NEW);

await db.end();
await stop([api, ...workers]);
await fake.close();
await deleteRedisKeys(env.KDB_QUEUE_PREFIX);
await dropDatabase(dbName);

const row = (what: string, r: Awaited<ReturnType<typeof build>>) =>
  `| ${what} | ${r.wallS.toFixed(1)} | ${r.requests} | ${r.inputs} | ${p50p95(r.during)} | ${r.spacesSeen.join(', ')} |`;
await writeSection('migrate', [
  '## Embedding-space migration (`pnpm bench:migrate`)',
  '',
  `Run ${now()} on ${await machine()}. ${N.toLocaleString('en')} records, from \`${HASH}\` to \`${NEW}\` (the local OpenAI wire-format server, 100 ms per request, 2,048 inputs a request), 2 worker processes; one client searching (hybrid, limit 10) one query at a time all along.`,
  '',
  `Search p50 / p95 idle before the migration: ${p50p95(idle)} ms (${idle.length} searches).`,
  '',
  '| build | wall time to the switch (s) | provider requests | texts sent | search p50 / p95 during it (ms) | space every search answered from |',
  '|---|---:|---:|---:|---:|---|',
  row('migration to the new space', first),
  row('the same space rebuilt after a drop, through the cache', cached),
  row('the same space rebuilt with its cache entries deleted', forced),
  '',
  'Texts sent include the one query the first search after the switch embeds with the new space\'s provider.',
  '',
  `Switch back to the kept old space (\`POST /v1/spaces/${HASH}/activate\`, until every row is ready): ${backMs.toFixed(0)} ms, 0 provider requests. Search p95 during the first build is ${(percentile(first.during, 95) / percentile(idle, 95)).toFixed(1)}× idle.`,
], 'docs/benchmarks/migrate.md');
process.exit(0);
