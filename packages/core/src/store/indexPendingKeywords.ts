import type pg from 'pg';
import { indexKeywords, type KeywordDoc } from './keywordIndex.js';
import { withTransaction } from './withTransaction.js';

/**
 * Writes the keyword postings of those of `ids` whose current text is not
 * indexed yet (`keyword_hash` differs from `content_hash`), in one
 * transaction. The embed worker runs it for every batch, beside the
 * embedding, and commits it before the batch's rows turn `ready`.
 *
 * The rows are locked (in id order) before their text is read: a PATCH of one
 * of them waits for this commit, or this waits for the PATCH and then finds
 * the row indexed by it; a job delivered twice finds nothing left to do.
 * A process dying before the commit leaves the rows unindexed and their jobs
 * unfinished: the worker that takes the jobs over indexes them.
 */
export async function indexPendingKeywords(pool: pg.Pool, ids: readonly string[]): Promise<number> {
  if (ids.length === 0) return 0;
  return withTransaction(pool, (client) => indexPendingKeywordsIn(client, ids));
}

/** The same inside the caller's transaction (which may just have changed the rows' text). */
export async function indexPendingKeywordsIn(client: pg.ClientBase, ids: readonly string[]): Promise<number> {
  const { rows } = await client.query<KeywordDoc>(
    `SELECT record_id AS id, entity, content, content_hash AS hash FROM kdb_search
      WHERE record_id = ANY($1::uuid[]) AND keyword_hash IS DISTINCT FROM content_hash
      ORDER BY record_id FOR UPDATE`,
    [ids],
  );
  await indexKeywords(client, rows);
  return rows.length;
}
