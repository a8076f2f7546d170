import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { composeContent } from '../../../packages/core/src/content/composeContent.js';
import { startPipeline, type Pipeline } from '../../../test-support/startPipeline.js';
import { startApiProcess, stopAll, type ChildApp } from '../../../test-support/processes.js';
import { until } from '../../../test-support/http.js';

const CLIENTS = 50;
const INGESTS_PER_CLIENT = 4;
const RECORDS_PER_INGEST = 500;
/** Single-record writes a client makes after each of its ingests, on records it or others wrote. */
const PATCHES_PER_ROUND = 6;
const DELETES_PER_ROUND = 3;
const EMBED_FIELDS = ['title', 'body'];

// Shared words make every ingest, PATCH and DELETE touch the same terms'
// document frequencies: the contention the test is about.
const WORDS = Array.from({ length: 300 }, (_, i) => `w${(i * 7919) % 1000}`);
const pick = (n: number, seed: number) => Array.from({ length: n }, (_, k) => WORDS[(seed * 31 + k * 17) % WORDS.length]!).join(' ');

function percentile(sorted: readonly number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

describe('50 concurrent clients inserting, patching and deleting in one entity', () => {
  let p: Pipeline;
  let api2: (ChildApp & { url: string }) | undefined;

  beforeAll(async () => {
    p = await startPipeline({ workers: 2, apiEnv: { KDB_PG_POOL_SIZE: '10' } });
    api2 = await startApiProcess({ ...p.env, KDB_PG_POOL_SIZE: '10' });
  });
  afterAll(async () => {
    await stopAll([api2]);
    await p?.close();
  });

  it('ends with no deadlock, no 500, every row ready from its newest text and no deleted id in search', async () => {
    const started = Date.now();
    const urls = [p.api.url, api2!.url];
    const json = { 'content-type': 'application/json' };
    const created = await fetch(`${urls[0]}/v1/entities`, {
      method: 'POST',
      headers: json,
      body: JSON.stringify({ name: 'docs', fields: { title: 'text', body: 'text' }, embedFields: EMBED_FIELDS }),
    });
    expect(created.status).toBe(201);
    const deadlocksBefore = await deadlockCount(p);

    /** The newest data of every live record, as the clients wrote it. */
    const live = new Map<string, { title: string; body: string }>();
    /** Live ids no request is working on: a client claims one before a PATCH or DELETE, so the newest text is known. */
    const free: string[] = [];
    /** Deleted ids, each with the word only its title held. */
    const deleted = new Map<string, string>();
    const latencies: { kind: string; ms: number; status: number }[] = [];
    let unique = 0;

    async function send(kind: string, url: string, init: RequestInit): Promise<Response> {
      const t0 = performance.now();
      const res = await fetch(url, init);
      latencies.push({ kind, ms: performance.now() - t0, status: res.status });
      return res;
    }
    const claim = (): string | undefined => (free.length ? free.splice(Math.floor(Math.random() * free.length), 1)[0] : undefined);

    async function client(c: number): Promise<void> {
      const base = urls[c % urls.length]!;
      for (let round = 0; round < INGESTS_PER_CLIENT; round++) {
        const records = Array.from({ length: RECORDS_PER_INGEST }, (_, i) => {
          const n = unique++;
          return { title: `doc u${n}x`, body: `${pick(8, n)} c${c}r${round}i${i}` };
        });
        const res = await send('insert', `${base}/v1/entities/docs/records`, { method: 'POST', headers: json, body: JSON.stringify(records) });
        const body = (await res.json()) as { ids?: string[] };
        if (res.status !== 202) continue;
        body.ids!.forEach((id, i) => {
          live.set(id, records[i]!);
          free.push(id);
        });
        const ops = [...Array(PATCHES_PER_ROUND).fill('patch'), ...Array(DELETES_PER_ROUND).fill('delete')] as ('patch' | 'delete')[];
        for (const op of ops.sort(() => Math.random() - 0.5)) {
          const id = claim();
          if (!id) break;
          const path = `${base}/v1/entities/docs/records/${id}`;
          if (op === 'patch') {
            const patch = { body: `${pick(6, unique++)} edited u${unique++}x` };
            const r = await send('patch', path, { method: 'PATCH', headers: json, body: JSON.stringify(patch) });
            await r.arrayBuffer();
            if (r.status === 200) live.set(id, { ...live.get(id)!, ...patch });
            free.push(id);
          } else {
            const r = await send('delete', path, { method: 'DELETE' });
            await r.arrayBuffer();
            if (r.status === 204) {
              deleted.set(id, /u\d+x/.exec(live.get(id)!.title)![0]);
              live.delete(id);
            } else free.push(id);
          }
        }
      }
    }
    await Promise.all(Array.from({ length: CLIENTS }, (_, c) => client(c)));
    const writesDone = Date.now();

    const byKind = (kind?: string) => latencies.filter((l) => !kind || l.kind === kind).map((l) => l.ms).sort((a, b) => a - b);
    const report = ['insert', 'patch', 'delete', undefined].map((k) => {
      const s = byKind(k);
      return `${k ?? 'all'}: n=${s.length} p50=${percentile(s, 50).toFixed(0)} ms p95=${percentile(s, 95).toFixed(0)} ms max=${s[s.length - 1]!.toFixed(0)} ms`;
    });
    console.log(`concurrent writes: ${((writesDone - started) / 1000).toFixed(1)} s of writes\n  ${report.join('\n  ')}`);

    const statuses = new Map<string, number>();
    for (const l of latencies) statuses.set(`${l.kind} ${l.status}`, (statuses.get(`${l.kind} ${l.status}`) ?? 0) + 1);
    console.log(`concurrent writes: answers ${JSON.stringify(Object.fromEntries(statuses))}; deadlocks so far ${(await deadlockCount(p)) - deadlocksBefore}`);
    expect(Object.fromEntries(statuses)).toEqual({
      'insert 202': CLIENTS * INGESTS_PER_CLIENT,
      'patch 200': latencies.filter((l) => l.kind === 'patch').length,
      'delete 204': latencies.filter((l) => l.kind === 'delete').length,
    });
    expect(live.size + deleted.size).toBe(CLIENTS * INGESTS_PER_CLIENT * RECORDS_PER_INGEST);

    // Every live row ends ready, embedded from the text of its newest data.
    const { db } = p;
    await until(async () => {
      const { rows } = await db.pool.query<{ n: string }>(`SELECT count(*) AS n FROM kdb_search s LEFT JOIN kdb_vectors_1 v ON v.record_id = s.record_id AND v.chunk = 0 WHERE s.status <> 'ready' OR v.embedded_hash IS DISTINCT FROM s.content_hash`);
      return rows[0]!.n === '0';
    }, 150_000, 500);
    const allReady = Date.now();
    const { rows } = await db.pool.query<{ record_id: string; content: string; status: string }>('SELECT record_id, content, status FROM kdb_search');
    expect(rows.length).toBe(live.size);
    const wrong = rows.filter((r) => !live.has(r.record_id) || r.status !== 'ready' || r.content !== composeContent(live.get(r.record_id)!, EMBED_FIELDS).content);
    expect(wrong.slice(0, 5)).toEqual([]);

    // BM25 statistics are still exact: documents, total length, document frequency of every term.
    const stats = await db.pool.query<{ n: string; len: string; n_docs: string; total_len: string }>(
      `SELECT (SELECT count(*) FROM kdb_search) AS n, (SELECT coalesce(sum(doc_len), 0) FROM kdb_search) AS len,
              (SELECT coalesce(sum(n_docs), 0) FROM kdb_bm25_stats) AS n_docs, (SELECT coalesce(sum(total_len), 0) FROM kdb_bm25_stats) AS total_len`,
    );
    expect(stats.rows[0]!.n_docs).toBe(stats.rows[0]!.n);
    expect(stats.rows[0]!.total_len).toBe(stats.rows[0]!.len);
    const df = await db.pool.query<{ n: string }>(
      `SELECT count(*) AS n FROM (SELECT term, count(*) AS df FROM kdb_postings_of('docs') GROUP BY term) p
         FULL JOIN (SELECT term, sum(df) AS df FROM kdb_bm25_terms GROUP BY term HAVING sum(df) <> 0) t USING (term)
        WHERE p.df IS DISTINCT FROM t.df`,
    );
    expect(df.rows[0]!.n).toBe('0');

    const checkedRows = Date.now();
    // Deleted ids never come back from search, by the word only they held (a dead block posting is not live).
    const orphans = await db.pool.query<{ n: string }>("SELECT count(*) AS n FROM kdb_postings_of('docs') WHERE record_id = ANY($1::uuid[])", [[...deleted.keys()]]);
    expect(orphans.rows[0]!.n).toBe('0');
    const deletedList = [...deleted];
    const modeMs = { keyword: [] as number[], hybrid: [] as number[] };
    const searchOne = async ([id, word]: [string, string], i: number) => {
      const t0 = performance.now();
      // Hybrid for a sample: until the new vectors are sealed into a segment, its vector side scans them all.
      const mode = i % 25 === 0 ? 'hybrid' : 'keyword';
      const r = await fetch(`${urls[i % urls.length]}/v1/search`, { method: 'POST', headers: json, body: JSON.stringify({ q: word, entity: 'docs', mode, limit: 100 }) });
      expect(r.status).toBe(200);
      const found = ((await r.json()) as { results: { id: string }[] }).results.map((x) => x.id);
      expect(found).not.toContain(id);
      modeMs[mode].push(performance.now() - t0);
    };
    for (let i = 0; i < deletedList.length; i += 8) await Promise.all(deletedList.slice(i, i + 8).map((d, j) => searchOne(d, i + j)));
    const checked = Date.now();

    // Backends flush their statistics when they exit: stop the processes, then count.
    await stopAll([p.api, api2, ...p.workers]);
    const deadlocks = (await deadlockCount(p)) - deadlocksBefore;
    const logs = [p.api, api2!, ...p.workers].map((c) => c.output()).join('\n');
    const secs = (from: number, to: number) => `${((to - from) / 1000).toFixed(1)} s`;
    console.log(
      `concurrent writes: ${deadlocks} deadlocks; writes ${secs(started, writesDone)}, all ready ${secs(writesDone, allReady)} later, ` +
        `row and statistics checks ${secs(allReady, checkedRows)}, ${deletedList.length} searches ${secs(checkedRows, checked)} ` +
        `(p50 keyword ${percentile(modeMs.keyword.sort((a, b) => a - b), 50).toFixed(0)} ms, hybrid ${percentile(modeMs.hybrid.sort((a, b) => a - b), 50).toFixed(0)} ms); whole test ${secs(started, Date.now())}`,
    );
    expect(logs).not.toMatch(/deadlock detected/);
    expect(deadlocks).toBe(0);
  }, 300_000);
});

async function deadlockCount(p: Pipeline): Promise<number> {
  const c = await p.db.pool.connect();
  try {
    await c.query('SELECT pg_stat_clear_snapshot()');
    const { rows } = await c.query<{ deadlocks: string }>('SELECT deadlocks FROM pg_stat_database WHERE datname = current_database()');
    return Number(rows[0]!.deadlocks);
  } finally {
    c.release();
  }
}
