import type { Queue } from 'bullmq';
import { describe, expect, it } from 'vitest';
import { KameleonClient, type KameleonApiError } from '@kameleondb/client';
import type { RunningApi } from '../src/startApi.js';
import { test } from '../../../test-support/fixtures.js';
import type { TestDatabase } from '../../../test-support/testDatabase.js';
import { writeCounts } from './writeCounts.js';

const MAX_RECORDS = 12_000;
test.override('apiEnv', { KDB_MAX_BODY: '2mb', KDB_MAX_RECORDS_PER_REQUEST: String(MAX_RECORDS) });

/** `n` records of about `size` characters each, made as they are sent. */
function* records(n: number, size = 40, tag = 'r'): Generator<Record<string, unknown>> {
  for (let i = 0; i < n; i++) yield { t: `${tag} ${i} ${'word '.repeat(Math.max(0, Math.floor((size - 10) / 5)))}`.trim() };
}

/** NDJSON lines of `records`, then `bad` as line n + 1. */
async function* linesThen(n: number, bad: string): AsyncGenerator<string> {
  for (const r of records(n)) yield `${JSON.stringify(r)}\n`;
  yield `${bad}\n`;
}

describe('a streamed ingest refused past its limits writes nothing, even after rows went in', () => {
  let db: TestDatabase;
  let client: KameleonClient;
  let queues: Queue[];
  const counts = () => writeCounts(db.pool, queues);
  const refusal = (p: Promise<unknown>) => p.then(() => null, (e: KameleonApiError) => e);

  test.beforeAll(async ({ db: d, api, queues: q }: { db: TestDatabase; api: RunningApi; queues: { embed: Queue; reindex: Queue } }) => {
    [db, queues] = [d, [q.embed, q.reindex]];
    client = new KameleonClient({ url: api.url });
    await client.entities.create({ name: 'notes', fields: { t: 'text' }, embedFields: ['t'] });
  });

  it('a bad line after 7,000 good ones (a 5,000-row chunk already written): 400 naming line 7001', async () => {
    const before = await counts();
    const e = await refusal(client.records.insertNdjson('notes', linesThen(7000, '{"t": "cut')));
    expect(e?.status).toBe(400);
    expect(e?.message).toMatch(/^line 7001: not valid JSON/);
    expect(e?.message).toMatch(/nothing was written$/);
    expect(await counts()).toEqual(before);
  });

  it(`more than KDB_MAX_RECORDS_PER_REQUEST (${MAX_RECORDS}) records: 413 too_large naming the cap; exactly the cap is accepted`, async () => {
    const before = await counts();
    const e = await refusal(client.records.insertStream('notes', records(MAX_RECORDS + 1), { idempotencyKey: 'over-the-cap' }));
    expect(e?.status).toBe(413);
    expect(e?.code).toBe('too_large');
    expect(e?.message).toContain(`the limit is ${MAX_RECORDS} (KDB_MAX_RECORDS_PER_REQUEST); line ${MAX_RECORDS + 1} is one more`);
    expect(e?.message).toMatch(/nothing was written$/);
    expect(e?.details).toEqual({ limit: MAX_RECORDS });
    expect(await counts()).toEqual(before);

    const ok = await client.records.insertStream('notes', records(MAX_RECORDS), { idempotencyKey: 'at-the-cap' });
    expect(ok.count).toBe(MAX_RECORDS);
    expect(new Set(ok.ids).size).toBe(MAX_RECORDS);
    const { rows } = await db.pool.query(`SELECT count(*)::int AS n FROM kdb_records WHERE id = ANY($1::uuid[])`, [ok.ids]);
    expect(rows[0].n).toBe(MAX_RECORDS);
    expect((await client.entities.get('notes')).records).toBe(MAX_RECORDS);
    // The key's ids were stored chunk by chunk: a replay answers the same ids in the same order.
    const again = await client.records.insertStream('notes', records(MAX_RECORDS), { idempotencyKey: 'at-the-cap' });
    expect(again).toMatchObject({ count: MAX_RECORDS, replayed: true });
    expect(again.ids).toEqual(ok.ids);
    expect((await client.entities.get('notes')).records).toBe(MAX_RECORDS);
  });

  it('a body over KDB_MAX_BODY (2 MB), counted as it arrives: 413 naming the limit, after 5,000 rows were written in the transaction', async () => {
    const before = await counts();
    // 300 characters a record: the first 5,000 (1.5 MB) are written before the limit is crossed.
    const e = await refusal(client.records.insertStream('notes', records(10_000, 300, 'big')));
    expect(e?.status).toBe(413);
    expect(e?.message).toMatch(/^request body over the limit of 2097152 bytes \(KDB_MAX_BODY\)/);
    expect(e?.message).toMatch(/nothing was written$/);
    expect(await counts()).toEqual(before);
  });
});
