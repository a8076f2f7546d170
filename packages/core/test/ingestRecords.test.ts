import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Queue } from 'bullmq';
import { validate as isUuid, version as uuidVersion } from 'uuid';
import { analyzedFrequencies, createEntity, ingestRecords, type EmbedJobData, type Entity } from '@kameleondb/core';
import { termFrequencies } from '../src/content/tokenize.js';
import { createTestDatabase, type TestDatabase } from '../../../test-support/testDatabase.js';
import { createTestEmbedQueue } from '../../../test-support/testEmbedQueue.js';

const records = Array.from({ length: 23 }, (_, i) => ({ text: `order ${i} ${i % 3 === 0 ? 'shipped' : 'pending'} ${'blue '.repeat(1 + (i % 4))}item` }));
const docOf = (r: { text: string }) => `text: ${r.text}`;

describe('ingestRecords', () => {
  let db: TestDatabase;
  let entity: Entity;
  let queue: Queue<EmbedJobData>;
  let closeQueue: () => Promise<void>;

  beforeAll(async () => {
    db = await createTestDatabase();
    entity = await createEntity(db.pool, { name: 'orders', fields: { text: 'text' }, embedFields: ['text'] });
    ({ queue, close: closeQueue } = createTestEmbedQueue());
  });
  afterAll(async () => {
    await closeQueue();
    await db.close();
  });

  it('writes every posting and term statistic when postings go in by batches that straddle chunks', async () => {
    // Chunks of 5 rows; postings after 10, 20 and the last 3 documents.
    const result = await ingestRecords({ pool: db.pool, queue, entity, records: records.map((value, i) => ({ value, where: `record ${i}` })), chunkSize: 5, postingsBatch: 7 });
    expect(result.ids).toHaveLength(records.length);

    // Postings: exactly the terms and frequencies of each document's text.
    const { rows: postings } = await db.pool.query<{ record_id: string; term: string; tf: number; doc_len: number }>(
      `SELECT record_id, term, tf, doc_len FROM kdb_postings WHERE entity = 'orders'`,
    );
    const want = records.flatMap((r, i) => {
      const { tf, length } = termFrequencies(docOf(r));
      return [...tf].map(([term, n]) => `${result.ids.at(i)} ${term} ${n} ${length}`);
    });
    expect(postings.map((p) => `${p.record_id} ${p.term} ${p.tf} ${p.doc_len}`).sort()).toEqual(want.sort());

    // Document frequencies, document count and total length, as computed from the texts.
    const df = new Map<string, number>();
    let totalLength = 0;
    for (const r of records) {
      const { tf, length } = termFrequencies(docOf(r));
      totalLength += length;
      for (const term of tf.keys()) df.set(term, (df.get(term) ?? 0) + 1);
    }
    const { rows: terms } = await db.pool.query<{ term: string; df: string }>(`SELECT term, df FROM kdb_bm25_terms WHERE entity = 'orders'`);
    expect(new Map(terms.map((t) => [t.term, Number(t.df)]))).toEqual(df);
    const { rows: stats } = await db.pool.query<{ n_docs: string; total_len: string }>(`SELECT n_docs, total_len FROM kdb_bm25_stats WHERE entity = 'orders'`);
    expect({ n: Number(stats[0]!.n_docs), len: Number(stats[0]!.total_len) }).toEqual({ n: records.length, len: totalLength });
  });

  it('gives time-ordered ids (UUIDv7), ascending in the order of the records', async () => {
    const { ids } = await ingestRecords({ pool: db.pool, queue, entity, records: records.slice(0, 12).map((value) => ({ value, where: 'body' })), chunkSize: 5 });
    for (const id of ids) {
      expect(isUuid(id)).toBe(true);
      expect(uuidVersion(id)).toBe(7);
    }
    expect([...ids].sort()).toEqual([...ids]);
    // PostgreSQL orders uuids bytewise, as the strings sort.
    const { rows } = await db.pool.query<{ id: string }>('SELECT id FROM kdb_records WHERE id = ANY($1::uuid[]) ORDER BY id', [ids.toArray()]);
    expect(rows.map((r) => r.id)).toEqual([...ids]);
  });

  it('a bad record found while an earlier chunk is being written rolls the whole request back, naming the record', async () => {
    // Chunks of 5: record 12 is read and validated while chunks 1 and 2 are written.
    const bad = records.slice(0, 14).map((value, i) => ({ value: i === 12 ? { text: 42 } : value, where: `record ${i + 1}` }));
    const count = async () =>
      (await db.pool.query<{ records: number; search: number; postings: number }>(
        `SELECT (SELECT count(*)::int FROM kdb_records) AS records, (SELECT count(*)::int FROM kdb_search) AS search, (SELECT count(*)::int FROM kdb_postings) AS postings`,
      )).rows[0]!;
    const before = await count();
    await expect(ingestRecords({ pool: db.pool, queue, entity, records: bad, chunkSize: 5, postingsBatch: 5 })).rejects.toThrow(/record 13/);
    expect(await count()).toEqual(before);
  });

  it('during an analyzer change writes both generations by the same batches: every posting and next length under the next key, as its analyzer makes them', async () => {
    const changing = await createEntity(db.pool, { name: 'changing', fields: { text: 'text' }, embedFields: ['text'] });
    await db.pool.query(`UPDATE kdb_entities SET next_analyzer = 'english', next_postings_key = 'changing~next' WHERE name = 'changing'`);
    const texts = Array.from({ length: 23 }, (_, i) => ({ text: `the orders ${i} were shipping ${i % 2 ? 'boxes' : 'parcels'}` }));
    const result = await ingestRecords({ pool: db.pool, queue, entity: changing, records: texts.map((value, i) => ({ value, where: `record ${i}` })), chunkSize: 5, postingsBatch: 7 });
    const lines = async (key: string) =>
      (await db.pool.query<{ line: string }>(`SELECT record_id || ' ' || term || ' ' || tf || ' ' || doc_len AS line FROM kdb_postings WHERE entity = $1`, [key])).rows.map((r) => r.line).sort();
    const want = (analyzer: 'simple' | 'english') =>
      texts
        .flatMap((r, i) => {
          const { tf, length } = analyzedFrequencies(analyzer, docOf(r));
          return [...tf].map(([term, n]) => `${result.ids.at(i)} ${term} ${n} ${length}`);
        })
        .sort();
    expect(await lines('changing')).toEqual(want('simple'));
    expect(await lines('changing~next')).toEqual(want('english'));
    expect(await lines('changing~next')).toContain(`${result.ids.at(0)} ship 1 ${analyzedFrequencies('english', docOf(texts[0]!)).length}`);
    const { rows: next } = await db.pool.query<{ record_id: string; doc_len: number }>(`SELECT record_id, doc_len FROM kdb_postings_next_len WHERE key = 'changing~next'`);
    expect(new Map(next.map((r) => [r.record_id, r.doc_len]))).toEqual(new Map(texts.map((r, i) => [result.ids.at(i)!, analyzedFrequencies('english', docOf(r)).length])));
  });
});
