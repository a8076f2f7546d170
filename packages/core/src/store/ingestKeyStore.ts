import type pg from 'pg';
import { RecordIds } from '../ingest/RecordIds.js';

/** Chunks of stored ids read per statement on a replay. */
const REPLAY_CHUNKS = 20;

/**
 * In the ingest's transaction: takes the key for this request, or returns
 * false when a committed request holds it. Waits while another open
 * transaction holds it, then either gets it (that one rolled back) or not.
 */
export async function claimIngestKey(client: pg.ClientBase, entity: string, key: string): Promise<boolean> {
  const claimed = await client.query(`INSERT INTO kdb_ingest_keys (entity, key, request_hash, ids) VALUES ($1, $2, '', '{}') ON CONFLICT DO NOTHING`, [entity, key]);
  return claimed.rowCount === 1;
}

/** Stores the ids of one written chunk under the key (`seq` from 0, in request order). */
export async function addIngestKeyIds(client: pg.ClientBase, entity: string, key: string, seq: number, ids: readonly string[]): Promise<void> {
  await client.query('INSERT INTO kdb_ingest_key_ids (entity, key, seq, ids) VALUES ($1, $2, $3, $4::uuid[])', [entity, key, seq, ids]);
}

/** Records the hash of the request's validated records, once all are written. */
export async function sealIngestKey(client: pg.ClientBase, entity: string, key: string, hash: string): Promise<void> {
  await client.query('UPDATE kdb_ingest_keys SET request_hash = $3 WHERE entity = $1 AND key = $2', [entity, key, hash]);
}

/**
 * The ids a committed key answers with, in request order, read a few
 * chunks per statement; null when the key was used for other records
 * (another hash).
 */
export async function storedKeyIds(client: pg.ClientBase, entity: string, key: string, hash: string): Promise<RecordIds | null> {
  const { rows } = await client.query<{ request_hash: string; ids: string[] }>('SELECT request_hash, ids FROM kdb_ingest_keys WHERE entity = $1 AND key = $2', [entity, key]);
  if (rows[0]!.request_hash !== hash) return null;
  // Keys written before kdb_ingest_key_ids hold their ids in the key row.
  const ids = RecordIds.of(rows[0]!.ids);
  for (let seq = 0; ; seq += REPLAY_CHUNKS) {
    const chunks = await client.query<{ ids: string[] }>('SELECT ids FROM kdb_ingest_key_ids WHERE entity = $1 AND key = $2 AND seq >= $3 AND seq < $4 ORDER BY seq', [
      entity,
      key,
      seq,
      seq + REPLAY_CHUNKS,
    ]);
    for (const c of chunks.rows) ids.push(c.ids);
    if (chunks.rows.length < REPLAY_CHUNKS) return ids;
  }
}
