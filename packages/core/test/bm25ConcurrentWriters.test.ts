import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import pg from 'pg';
import { createEntity, type Entity } from '@kameleondb/core';
import { analyze, indexKeywords } from '../src/store/keywordIndex.js';
import { ingestTestRecords } from '../../../test-support/ingestTestRecords.js';
import { createTestDatabase, type TestDatabase } from '../../../test-support/testDatabase.js';

/** Documents, total length and every term's df as stored, against the same figures counted from the rows. */
async function statisticsDrift(db: pg.Pool): Promise<{ docs: [string, string]; length: [string, string]; wrongDf: string }> {
  const { rows } = await db.query<{ n: string; n_docs: string; len: string; total_len: string; wrong_df: string }>(
    `SELECT (SELECT count(*) FROM kdb_search) AS n, (SELECT coalesce(sum(n_docs), 0) FROM kdb_bm25_stats) AS n_docs,
            (SELECT coalesce(sum(doc_len), 0) FROM kdb_search) AS len, (SELECT coalesce(sum(total_len), 0) FROM kdb_bm25_stats) AS total_len,
            (SELECT count(*) FROM (SELECT entity, term, count(*) AS df FROM kdb_postings GROUP BY entity, term) p
               FULL JOIN (SELECT entity, term, sum(df) AS df FROM kdb_bm25_terms GROUP BY entity, term HAVING sum(df) <> 0) t USING (entity, term)
              WHERE p.df IS DISTINCT FROM t.df) AS wrong_df`,
  );
  const r = rows[0]!;
  return { docs: [r.n_docs, r.n], length: [r.total_len, r.len], wrongDf: r.wrong_df };
}

describe('BM25 statistics under concurrent writers', () => {
  let db: TestDatabase;
  let entity: Entity;
  let ids: string[];

  beforeAll(async () => {
    db = await createTestDatabase();
    entity = await createEntity(db.pool, { name: 'notes', fields: { text: 'text' }, embedFields: ['text'] });
    ids = await ingestTestRecords(db.pool, entity, [{ text: 'shared words alpha' }, { text: 'shared words beta' }, { text: 'shared gamma' }]);
  });
  afterAll(() => db.close());

  it('lets an ingest, a DELETE and another re-index commit while a re-index of shared words is still open, and stays exact', async () => {
    const open = await db.pool.connect();
    const other = await db.pool.connect();
    // An ingest's own transaction, under the same lock timeout as `write`.
    const ingestPool = new pg.Pool({ connectionString: db.url, max: 1, options: '-c lock_timeout=3s' });
    try {
      // A PATCH in flight: old postings removed, length and new postings written, not committed.
      await open.query('BEGIN');
      await indexKeywords(open, entity.name, [analyze({ id: ids[0]!, content: 'text: shared words alpha edited' })], { replace: true });

      // Writers of the same entity and words must not wait on it (a wait is where
      // lock orders cross and deadlock): with a lock timeout, any wait fails.
      const write = async (fn: (c: pg.PoolClient) => Promise<unknown>) => {
        await other.query('BEGIN');
        try {
          await other.query(`SET LOCAL lock_timeout = '3s'`);
          await fn(other);
          await other.query('COMMIT');
        } catch (err) {
          await other.query('ROLLBACK');
          throw err;
        }
      };
      await ingestTestRecords(ingestPool, entity, [{ text: 'shared words delta' }, { text: 'words epsilon' }]);
      await write((c) => c.query('DELETE FROM kdb_records WHERE id = $1', [ids[1]]));
      await write((c) => indexKeywords(c, entity.name, [analyze({ id: ids[2]!, content: 'text: shared gamma words words' })], { replace: true }));

      await open.query('COMMIT');
    } finally {
      await open.query('ROLLBACK').catch(() => undefined);
      open.release();
      other.release();
      await ingestPool.end();
    }
    const drift = await statisticsDrift(db.pool);
    expect(drift).toEqual({ docs: ['4', '4'], length: [drift.length[1], drift.length[1]], wrongDf: '0' });
    const { rows } = await db.pool.query<{ term: string; df: string }>(
      `SELECT term, sum(df) AS df FROM kdb_bm25_terms WHERE entity = 'notes' AND term IN ('shared', 'words') GROUP BY term ORDER BY term`,
    );
    expect(rows).toEqual([
      { term: 'shared', df: '3' },
      { term: 'words', df: '4' },
    ]);
  });

  it('keeps no row for a term whose last document in that slot went away', async () => {
    const [id] = await ingestTestRecords(db.pool, entity, [{ text: 'zeta once' }]);
    await db.pool.query('DELETE FROM kdb_records WHERE id = $1', [id]);
    const { rows } = await db.pool.query(`SELECT slot, df FROM kdb_bm25_terms WHERE entity = 'notes' AND term = 'zeta'`);
    expect(rows).toEqual([]);
  });
});
