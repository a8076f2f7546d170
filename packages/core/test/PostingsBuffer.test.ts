import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { v7 as uuidv7 } from 'uuid';
import { createEntity } from '@kameleondb/core';
import { PostingsBuffer } from '../src/store/PostingsBuffer.js';
import { KeywordIndexWriter } from '../src/store/keywordIndex.js';
import { createTestDatabase, type TestDatabase } from '../../../test-support/testDatabase.js';

describe('PostingsBuffer', () => {
  let db: TestDatabase;
  beforeAll(async () => {
    db = await createTestDatabase();
  });
  afterAll(async () => {
    await db?.close();
  });

  it('writes every posting added, once, with its tf and doc_len: chains of a common term across chunks and pool pages, 320k terms seen once', async () => {
    const docs = Array.from({ length: 4000 }, (_, i) => {
      const tf = new Map<string, number>([['common', 1 + (i % 3)], [`mod${i % 7}`, 2]]);
      for (let j = 0; j < 80; j++) tf.set(`u${i}x${j}`, 1);
      return { id: uuidv7(), tf, length: 10 + (i % 50) };
    });
    const buffer = new PostingsBuffer('pb');
    buffer.add(docs.slice(0, 1500));
    buffer.add(docs.slice(1500));
    expect(buffer.documents).toBe(4000);
    expect(buffer.terms).toBe(1 + 7 + 320_000);
    // At least its 328,000 (document, tf) pairs of 8 bytes.
    expect(buffer.bytes).toBeGreaterThan(328_000 * 8);
    const client = await db.pool.connect();
    try {
      await buffer.write(client);
    } finally {
      client.release();
    }
    expect(buffer.documents).toBe(0);
    expect(buffer.terms).toBe(0);
    // One COPY into a table of its own: ctid order is the order written. Terms in the order first seen,
    // each term's postings in the order its documents were added.
    const { rows } = await db.pool.query<{ line: string }>(`SELECT term || ' ' || record_id || ' ' || tf || ' ' || doc_len AS line FROM kdb_postings WHERE entity = 'pb' ORDER BY ctid`);
    const byTerm = new Map<string, string[]>();
    for (const d of docs) for (const [term, tf] of d.tf) (byTerm.get(term) ?? byTerm.set(term, []).get(term)!).push(`${term} ${d.id} ${tf} ${d.length}`);
    const want = [...byTerm.values()].flat();
    expect(rows.length).toBe(want.length);
    expect(rows.map((r) => r.line)).toEqual(want);
    // The statement trigger counted each term's documents.
    const df = await db.pool.query<{ term: string; df: string }>(`SELECT term, sum(df) AS df FROM kdb_bm25_terms WHERE entity = 'pb' AND term IN ('common', 'mod3', 'u17x5') GROUP BY term ORDER BY term`);
    expect(df.rows.map((r) => [r.term, Number(r.df)])).toEqual([['common', 4000], ['mod3', 571], ['u17x5', 1]]);
  }, 120_000);

  it("KeywordIndexWriter writes a batch once its terms reach batchTerms, before the batch's documents are all in", async () => {
    await createEntity(db.pool, { name: 'kw', fields: { t: 'text' }, embedFields: ['t'] });
    const client = await db.pool.connect();
    try {
      await client.query('BEGIN');
      const writer = await KeywordIndexWriter.open(client, 'kw', { batchDocs: 1_000_000, batchTerms: 1000 });
      const written = async () => (await client.query<{ n: number }>(`SELECT count(*)::int AS n FROM kdb_postings WHERE entity = 'kw'`)).rows[0]!.n;
      for (let i = 0; i < 40; i++) await writer.add(client, [writer.analyze({ id: uuidv7(), content: Array.from({ length: 30 }, (_, j) => `t${i}y${j}`).join(' ') })]);
      // 40 documents of 30 new terms: written at 1,020 terms (34 documents), the last 6 still buffered.
      expect(await written()).toBe(34 * 30);
      await writer.flush(client);
      expect(await written()).toBe(40 * 30);
      await client.query('ROLLBACK');
    } finally {
      client.release();
    }
  });
});
