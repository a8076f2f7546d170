import type { ErrorRequestHandler } from 'express';
import type { Logger } from 'pino';
import { isConnectionLoss, KdbError, type ErrorCode } from '@kameleondb/core';

const STATUS: Record<ErrorCode, number> = {
  invalid_input: 400,
  unauthorized: 401,
  not_found: 404,
  conflict: 409,
  config: 500,
  schema: 500,
  provider: 502,
  unavailable: 503,
};

/** The one place errors become HTTP answers: `{error: {code, message, details}}`. */
export function errorHandler(log: Logger): ErrorRequestHandler {
  return (err, _req, res, _next) => {
    if (err instanceof KdbError) {
      res.status(STATUS[err.code]).json({ error: { code: err.code, message: err.message, details: err.details ?? null } });
      return;
    }
    const e = err as { type?: string; status?: number; message?: string; limit?: number };
    if (e.type === 'entity.too.large') {
      res.status(413).json({ error: { code: 'too_large', message: `request body over the limit of ${e.limit} bytes (KDB_MAX_BODY)`, details: { limit: e.limit } } });
      return;
    }
    if (e.type === 'entity.parse.failed') {
      res.status(400).json({ error: { code: 'invalid_input', message: `body is not valid JSON: ${e.message}`, details: null } });
      return;
    }
    if (isConnectionLoss(err)) {
      // A lost or refused connection (Postgres restarting): nothing committed, the same request may be sent again.
      log.warn({ err }, 'database unavailable: answered 503');
      res.set('Retry-After', '2').status(503).json({ error: { code: 'unavailable', message: 'database unavailable (connection lost or refused); retry after Retry-After seconds', details: null } });
      return;
    }
    log.error({ err }, 'unhandled error');
    res.status(500).json({ error: { code: 'internal', message: 'internal error', details: null } });
  };
}
