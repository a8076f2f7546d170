import { KdbError } from '../errors.js';

/**
 * SQLSTATEs and socket codes of a Postgres server that went away or is not
 * taking sessions: admin_shutdown (57P01, every session of a `restart -m
 * fast`), crash_shutdown, cannot_connect_now (57P03, while it starts up),
 * class 08 connection exceptions, and the socket errors of a reset or
 * refused connection.
 */
const CODES = new Set([
  '57P01',
  '57P02',
  '57P03',
  '08000',
  '08001',
  '08003',
  '08004',
  '08006',
  '08007',
  'ECONNRESET',
  'ECONNREFUSED',
  'EPIPE',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EAI_AGAIN',
]);

/** Errors node-postgres and pg-pool raise without a code when the socket is gone or never came. */
const MESSAGES = /^(Connection terminated|Client has encountered a connection error|timeout exceeded when trying to connect|Client was closed and is not queryable)/;

/**
 * True when `err` says the database connection was lost or refused, not
 * that the statement was wrong: the transaction did not commit (unless the
 * connection broke during COMMIT itself), and the same work may be retried
 * once the server answers again. Looks through `cause` and AggregateError's
 * `errors` (a refused connection to a host of several addresses). Our own
 * errors keep their meaning: an unreachable embedding provider is a
 * ProviderError, with its own retry budget, even when its cause is a
 * refused socket.
 */
export function isConnectionLoss(err: unknown, depth = 0): boolean {
  if (depth > 4 || typeof err !== 'object' || err === null || err instanceof KdbError) return false;
  const e = err as { code?: unknown; message?: unknown; cause?: unknown; errors?: unknown };
  if (typeof e.code === 'string' && CODES.has(e.code)) return true;
  if (typeof e.message === 'string' && MESSAGES.test(e.message)) return true;
  if (Array.isArray(e.errors) && e.errors.some((x) => isConnectionLoss(x, depth + 1))) return true;
  return isConnectionLoss(e.cause, depth + 1);
}
