import { readFile, writeFile } from 'node:fs/promises';
import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import { KameleonClient } from '@kameleondb/client';
import { createEntity } from '@kameleondb/core';
import { startApiProcess, stopAll, type ChildApp } from '../../../test-support/processes.js';
import { test } from '../../../test-support/fixtures.js';
import type { TestDatabase } from '../../../test-support/testDatabase.js';
import { ingestTransactionWrote } from '../../../test-support/ingestTransactionWrote.js';
import { redisUrl } from '../../../test-support/urls.js';

const WORDS = 'order shipped pending blue item invoice customer parcel route warehouse late early refund express standard fragile heavy small north south'.split(' ');

/** Records made as they are sent, never held: `n` of them, 12–32 words each, tagged `tag`. */
function* generated(n: number, tag: string): Generator<Record<string, unknown>> {
  for (let i = 0; i < n; i++) {
    const words: string[] = [];
    for (let w = 0; w < 10 + ((i * 7) % 21); w++) words.push(WORDS[(i * 31 + w * w) % WORDS.length]!);
    yield { t: `${tag} ${i} ${words.join(' ')}` };
  }
}

/** A field of /proc/<pid>/status in bytes (VmRSS, VmHWM). */
async function procKb(pid: number, field: 'VmRSS' | 'VmHWM'): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  return Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status)![1]) * 1024;
}

/** Resets the process's peak RSS (VmHWM) to its current RSS (proc(5), clear_refs "5"). */
const resetPeak = (pid: number) => writeFile(`/proc/${pid}/clear_refs`, '5');

const MB = 1024 * 1024;
const N = 200_000;
/** Old-space cap of the measured API process, in MB (NODE_OPTIONS). */
const HEAP_CAP_MB = 128;
/** Old-space cap of the API that takes ever-new terms: bench:scale ran out of it at a million records. */
const UNIQUE_TERMS_HEAP_MB = 192;
/** How long an API process may take to start: it compiles its sources, slow on a loaded machine. */
const START_MS = 120_000;

describe('streamed ingest into a real API process', () => {
  let db: TestDatabase;
  let prefix: string;
  const children: ChildApp[] = [];
  const env = () => ({ KDB_DATABASE_URL: db.url, KDB_REDIS_URL: redisUrl(), KDB_QUEUE_PREFIX: prefix, KDB_AUTH: 'disabled' });

  test.beforeAll(async ({ db: d, prefix: p }) => {
    [db, prefix] = [d, p];
    await createEntity(db.pool, { name: 'stream', fields: { t: 'text' }, embedFields: ['t'] });
  });
  afterAll(async () => {
    await stopAll(children);
  });

  const countTagged = async (tag: string) => (await db.pool.query(`SELECT count(*)::int AS n FROM kdb_records WHERE data->>'t' LIKE $1`, [`${tag} %`])).rows[0].n as number;

  it('streams 200k records with the API resident memory flat in N, under a heap cap that buffering them would exceed', async () => {
    // The cap makes V8 collect instead of growing its heap to a multiple of the live set: with it, the
    // peak RSS measures what the ingest holds. Buffering the request (the design before streaming)
    // ran out of this heap before the 200k records were read.
    const api = await startApiProcess({ ...env(), NODE_OPTIONS: `--max-old-space-size=${HEAP_CAP_MB}` }, START_MS);
    children.push(api);
    const pid = api.proc.pid!;
    const client = new KameleonClient({ url: api.url, uploadTimeoutMs: 0 });
    await client.records.insertStream('stream', generated(6000, 'warm'));
    await resetPeak(pid);
    const before = await procKb(pid, 'VmRSS');
    // Peak RSS per quarter of the upload, by the records the client has handed over.
    let sent = 0;
    const quarters = [0, 0, 0, 0];
    const sampler = setInterval(() => {
      void procKb(pid, 'VmRSS').then(
        (rss) => (quarters[Math.min(3, Math.floor((4 * sent) / N))] = Math.max(quarters[Math.min(3, Math.floor((4 * sent) / N))]!, rss)),
        () => undefined,
      );
    }, 25);
    const counted = function* () {
      for (const r of generated(N, 'large')) {
        sent += 1;
        yield r;
      }
    };
    const answer = await client.records.insertStream('stream', counted()).finally(() => clearInterval(sampler));
    const peak = await procKb(pid, 'VmHWM');
    console.log(
      `API RSS over a streamed ${N}-record request (--max-old-space-size=${HEAP_CAP_MB}): before ${(before / MB).toFixed(0)} MB, peak ${(peak / MB).toFixed(0)} MB; peak per quarter ${quarters.map((q) => (q / MB).toFixed(0)).join(', ')} MB`,
    );
    expect(answer.count).toBe(N);
    expect(new Set(answer.ids).size).toBe(N);
    expect(await countTagged('large')).toBe(N);
    expect(api.proc.exitCode).toBeNull();
    // Flat in N: the last quarter (150k–200k records in) peaks no higher than the second (50k–100k) plus a
    // margin; holding the 100k records in between would add over 100 MB. Absolute: well under what
    // 200k records take as parsed objects alone.
    expect(quarters[3]!).toBeLessThan(quarters[1]! + 40 * MB);
    expect(peak - before).toBeLessThan(160 * MB);
  }, 900_000);

  it('a streamed request of ever-new terms stays under the heap cap: the postings buffer is bounded in bytes, not only in documents', async () => {
    // Every record brings 60 terms no other record has: 1.8M distinct terms within one 50,000-document
    // postings batch, a vocabulary that grows with the request (as a corpus's does with N, or a hostile one's
    // by design). Held per term until the batch was written, they outgrew a heap of 192 MB before the batch
    // filled; the buffer's bounds (500,000 terms, 128 MB) now end the batch first.
    const api = await startApiProcess({ ...env(), NODE_OPTIONS: `--max-old-space-size=${UNIQUE_TERMS_HEAP_MB}` }, START_MS);
    children.push(api);
    const pid = api.proc.pid!;
    const n = 30_000;
    function* unique() {
      for (let i = 0; i < n; i++) yield { t: `fresh ${i} ${Array.from({ length: 60 }, (_, j) => `u${i.toString(36)}v${j}`).join(' ')}` };
    }
    const answer = await new KameleonClient({ url: api.url, uploadTimeoutMs: 0 }).records.insertStream('stream', unique());
    expect(answer.count).toBe(n);
    expect(api.proc.exitCode).toBeNull();
    expect(await countTagged('fresh')).toBe(n);
    const distinct = (
      await db.pool.query(`SELECT count(DISTINCT term)::int AS n FROM (SELECT term FROM kdb_postings WHERE entity = 'stream' UNION ALL SELECT term FROM kdb_postings_blocks WHERE entity = 'stream') p WHERE term LIKE 'u%v%'`)
    ).rows[0].n as number;
    expect(distinct).toBe(n * 60);
    console.log(`API peak RSS over ${n} records of 60 new terms each (--max-old-space-size=${UNIQUE_TERMS_HEAP_MB}): ${((await procKb(pid, 'VmHWM')) / MB).toFixed(0)} MB`);
  }, 900_000);

  it('a streamed request of records at the field limit stays under the heap cap: a chunk is bounded in characters, not only in records', async () => {
    // 240 records of 1,000,000 characters each, 240 MB of text: one 5,000-record chunk held them all (with
    // their composed contents) and outgrew the heap; a chunk now ends at CHUNK_CHARS. Each record also has a
    // term of its own longer than 12 characters: as a slice of the record's lower-cased text it kept that
    // whole text alive in the postings buffer until the batch was written.
    const api = await startApiProcess({ ...env(), KDB_MAX_BODY: '1gb', NODE_OPTIONS: `--max-old-space-size=${UNIQUE_TERMS_HEAP_MB}` }, START_MS);
    children.push(api);
    const pid = api.proc.pid!;
    const n = 240;
    const words = WORDS.join(' ');
    function* large() {
      for (let i = 0; i < n; i++) {
        const head = `wide ${i} serial-${i}-abcdefghijkl `;
        yield { t: head + words.repeat(Math.ceil(1_000_000 / words.length)).slice(0, 1_000_000 - head.length) };
      }
    }
    const answer = await new KameleonClient({ url: api.url, uploadTimeoutMs: 0 }).records.insertStream('stream', large());
    expect(answer.count).toBe(n);
    expect(api.proc.exitCode).toBeNull();
    expect(await countTagged('wide')).toBe(n);
    console.log(`API peak RSS over ${n} records of 1,000,000 characters (--max-old-space-size=${UNIQUE_TERMS_HEAP_MB}): ${((await procKb(pid, 'VmHWM')) / MB).toFixed(0)} MB`);
  }, 900_000);

  it('an API killed mid-stream leaves nothing, and a retry with the same Idempotency-Key writes the request once', async () => {
    let api = await startApiProcess(env(), START_MS);
    children.push(api);
    const watcher = new pg.Client({ connectionString: db.url });
    await watcher.connect();
    // The upload stalls after 30,000 records, rows of them already written in the open transaction.
    let release!: () => void;
    const stalled = new Promise<void>((r) => (release = r));
    async function* stallingAfter(n: number) {
      let i = 0;
      for (const r of generated(40_000, 'killed')) {
        if (i++ === n) await stalled;
        yield r;
      }
    }
    const first = new KameleonClient({ url: api.url, uploadTimeoutMs: 0 }).records.insertStream('stream', stallingAfter(30_000), { idempotencyKey: 'stream-kill' }).catch((e: unknown) => e);
    await ingestTransactionWrote(watcher, 120_000);
    api.kill('SIGKILL');
    expect(await api.exited).toBe('SIGKILL');
    release();
    expect(await first).toBeInstanceOf(Error);
    // Postgres rolls the dead client's transaction back once it notices the closed connection.
    const deadline = Date.now() + 60_000;
    // Only the dead client's backend holds a transaction id here (the other API process only reads).
    while ((await watcher.query(`SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = current_database() AND backend_xid IS NOT NULL AND pid <> pg_backend_pid()`)).rows[0].n > 0) {
      if (Date.now() > deadline) throw new Error('the killed API backend never went away');
      await new Promise((r) => setTimeout(r, 50));
    }
    expect(await countTagged('killed')).toBe(0);
    expect((await watcher.query(`SELECT count(*)::int AS n FROM kdb_ingest_keys WHERE key = 'stream-kill'`)).rows[0].n).toBe(0);

    api = await startApiProcess(env(), START_MS);
    children.push(api);
    const client = new KameleonClient({ url: api.url, uploadTimeoutMs: 0 });
    const retry = await client.records.insertStream('stream', generated(40_000, 'killed'), { idempotencyKey: 'stream-kill' });
    expect(retry.count).toBe(40_000);
    expect(retry.replayed).toBeUndefined();
    expect(await countTagged('killed')).toBe(40_000);
    // Once more: a replay streamed from the stored chunks, the same ids in the same order, nothing written.
    const again = await client.records.insertStream('stream', generated(40_000, 'killed'), { idempotencyKey: 'stream-kill' });
    expect(again.replayed).toBe(true);
    expect(again.ids).toEqual(retry.ids);
    expect(await countTagged('killed')).toBe(40_000);
    const { rows } = await watcher.query(`SELECT id FROM kdb_records WHERE data->>'t' LIKE 'killed %' ORDER BY id`);
    expect(rows.map((r) => r.id as string)).toEqual([...retry.ids].sort());
    await watcher.end();
  }, 600_000);
});
