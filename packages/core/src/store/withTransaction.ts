import type pg from 'pg';
import { withClient } from './withClient.js';

/**
 * Runs `fn` in a transaction on one pooled client; rolls back on any error.
 * A lost connection rejects like any other error (the server rolls the
 * transaction back itself) and never reaches the process as an unhandled
 * 'error' event (withClient).
 */
export async function withTransaction<T>(pool: pg.Pool, fn: (client: pg.PoolClient) => Promise<T>): Promise<T> {
  return withClient(pool, async (client) => {
    await client.query('BEGIN');
    try {
      const result = await fn(client);
      await client.query('COMMIT');
      return result;
    } catch (err) {
      await client.query('ROLLBACK').catch(() => undefined);
      throw err;
    }
  });
}
