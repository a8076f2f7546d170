import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BM25_B, BM25_K1, bm25Idf, blockTopK, createEntity, readStatsAndHeads } from '@kameleondb/core';
import type pg from 'pg';
import { ingestTestRecords } from '../../../test-support/ingestTestRecords.js';
import { createTestDatabase, type TestDatabase } from '../../../test-support/testDatabase.js';

/**
 * blockTopK racing the drop of postings blocks: an analyzer change drops its
 * old generation's groups and blocks (dropBlocks) while searches that read
 * the old scope may still be reading them. Such a search must answer, not
 * fail, and from what is left only: a block found gone counts as empty.
 */
describe('blockTopK: postings blocks dropped during a search', () => {
  let db: TestDatabase;
  const K = 10;

  beforeAll(async () => {
    db = await createTestDatabase();
    const gone = await createEntity(db.pool, { name: 'gone', fields: { body: 'text' }, embedFields: ['body'] });
    // "common" in all 6,000 (47 blocks: two groups of heads), "rare" in every 13th, with 1–3 of it.
    await ingestTestRecords(
      db.pool,
      gone,
      Array.from({ length: 6000 }, (_, i) => ({ body: ['common', ...(i % 13 === 0 ? Array<string>(1 + (i % 3)).fill('rare') : []), ...Array.from({ length: 2 + (i % 9) }, (_, j) => `f${(i + j) % 41}`)].join(' ') })),
      { blocksMinDocs: 1 },
    );
  }, 120_000);
  afterAll(async () => {
    await db?.close();
  });

  /** The search's statistics before anything is dropped, as the retriever reads them first. */
  async function statistics() {
    const first = await readStatsAndHeads(db.pool, { entities: ['gone'], terms: ['common', 'rare'], k: K });
    const terms = [...first.df].map(([term, d]) => ({ term, idf: bm25Idf(first.documents, d) }));
    return { terms, avgdl: first.totalLength / first.documents };
  }

  /**
   * The pool as blockTopK sees it, running `drop` once before the first statement after the
   * groups' heads are read (opening a group or reading blocks); every statement sent after
   * that point waits for the drop, as one that reaches Postgres after the drop commits.
   */
  function droppingAfterHeads(drop: () => Promise<unknown>): pg.Pool {
    let dropped: Promise<unknown> | undefined;
    const query = (config: pg.QueryConfig) => {
      if (config.name !== 'kdb_block_groups') dropped ??= drop();
      return (dropped ?? Promise.resolve()).then(() => db.pool.query(config));
    };
    return { query } as unknown as pg.Pool;
  }

  /** BM25 over the postings now left, at the statistics the search began with. */
  async function fullSumLeft(terms: { term: string; idf: number }[], avgdl: number) {
    const { rows } = await db.pool.query<{ id: string; score: number }>(
      `SELECT p.record_id AS id, sum(q.idf * p.tf * ($4::float8 + 1) / (p.tf + $4::float8 * (1 - $5::float8 + $5::float8 * p.doc_len / $3::float8))) AS score
         FROM unnest($1::text[], $2::float8[]) AS q(term, idf)
         JOIN kdb_postings_of('gone', $1::text[]) p ON p.term = q.term
        GROUP BY p.record_id`,
      [terms.map((t) => t.term), terms.map((t) => t.idf), avgdl, BM25_K1, BM25_B],
    );
    return rows.map((r) => ({ id: r.id, score: Number(r.score) })).sort((x, y) => y.score - x.score || (x.id < y.id ? -1 : 1));
  }

  it('answers from the blocks left when one term\'s groups and blocks go after its heads were read', async () => {
    const { terms, avgdl } = await statistics();
    const before = await blockTopK(db.pool, { entities: ['gone'], terms, k: K, k1: BM25_K1, b: BM25_B, avgdl });
    expect(before.hits).toHaveLength(K);
    expect(before.groupsOpened).toBeGreaterThan(0);

    const top = await blockTopK(
      droppingAfterHeads(async () => {
        await db.pool.query(`DELETE FROM kdb_postings_groups WHERE entity = 'gone' AND term = 'common'`);
        await db.pool.query(`DELETE FROM kdb_postings_blocks WHERE entity = 'gone' AND term = 'common'`);
      }),
      { entities: ['gone'], terms, k: K, k1: BM25_K1, b: BM25_B, avgdl },
    );
    // "common" was in the heads it began with: it looked for its blocks and found none.
    expect(top.groups).toBe(before.groups);
    const want = (await fullSumLeft(terms, avgdl)).slice(0, K);
    expect(want.length).toBe(K);
    expect(top.hits.map((h) => h.id)).toEqual(want.map((w) => w.id));
    top.hits.forEach((h, i) => expect(Math.abs(h.score - want[i]!.score)).toBeLessThan(1e-9 * Math.max(1, want[i]!.score)));
    // Without "common" every score is lower: the answer is not the one from before the drop.
    expect(top.hits[0]!.score).toBeLessThan(before.hits[0]!.score);
  });

  it('answers nothing, without an error, when every group and block of the key goes after its heads were read', async () => {
    const { terms, avgdl } = await statistics();
    const top = await blockTopK(
      droppingAfterHeads(async () => {
        await db.pool.query(`DELETE FROM kdb_postings_groups WHERE entity = 'gone'`);
        await db.pool.query(`DELETE FROM kdb_postings_blocks WHERE entity = 'gone'`);
      }),
      { entities: ['gone'], terms, k: K, k1: BM25_K1, b: BM25_B, avgdl },
    );
    expect(top.groups).toBeGreaterThan(0);
    expect(top.hits).toEqual([]);
    expect(top.candidates).toBe(0);
  });
});
