import type pg from 'pg';
import { isConnectionLoss } from './isConnectionLoss.js';

/**
 * Runs `fn` with one client checked out of the pool. pg-pool takes its own
 * 'error' listener off a client while it is checked out, so a connection
 * lost then (a Postgres restart sends 57P01 to every session, or the socket
 * resets) is an 'error' event nobody listens to, and Node ends the process.
 * The listener here keeps the process alive; the query in flight, or the
 * next one, rejects with the loss anyway. A client whose connection failed
 * is destroyed on release instead of going back to the pool.
 */
export async function withClient<T>(pool: pg.Pool, fn: (client: pg.PoolClient) => Promise<T>): Promise<T> {
  const client = await pool.connect();
  let lost: Error | undefined;
  const onError = (err: Error) => {
    lost ??= err;
  };
  client.on('error', onError);
  try {
    return await fn(client);
  } catch (err) {
    if (isConnectionLoss(err)) lost ??= err as Error;
    throw err;
  } finally {
    client.removeListener('error', onError);
    client.release(lost);
  }
}
