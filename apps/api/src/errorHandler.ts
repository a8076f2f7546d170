import type { ErrorRequestHandler } from 'express';
import type { Logger } from 'pino';
import { isConnectionLoss, KdbError, printable, type ErrorCode } from '@kameleondb/core';
import { HttpError } from './HttpError.js';

const STATUS: Record<ErrorCode, number> = {
  invalid_input: 400,
  unauthorized: 401,
  not_found: 404,
  conflict: 409,
  ambiguous_id: 409,
  too_large: 413,
  config: 500,
  schema: 500,
  provider: 502,
  unavailable: 503,
};

/**
 * The one place errors become HTTP answers: `{error: {code, message,
 * details, requestId}}`. Anything not known to be the client's fault is a
 * 500, logged with the request id the answer carries.
 */
export function errorHandler(log: Logger): ErrorRequestHandler {
  return (err, req, res, _next) => {
    const requestId = String(res.locals.requestId ?? '');
    const send = (status: number, code: string, message: string, details: unknown = null) => {
      if (res.headersSent) {
        res.destroy();
        return;
      }
      res.status(status).json({ error: { code, message, details: details ?? null, requestId } });
    };
    // Drop what is left of an unread body, so the client reads this answer.
    if (!req.complete && !req.readableFlowing) req.resume();
    if (err instanceof KdbError) {
      if (STATUS[err.code] >= 500) log.error({ err, requestId }, 'server-side error');
      send(STATUS[err.code], err.code, err.message, err.details);
      return;
    }
    if (err instanceof HttpError) {
      res.set(err.headers);
      send(err.status, err.code, err.message, err.details);
      return;
    }
    // Express's own client errors (a path parameter with a bad %-escape, say) carry a 4xx status.
    const e = err as { status?: unknown; statusCode?: unknown; message?: unknown; expose?: unknown };
    const status = typeof e.status === 'number' ? e.status : typeof e.statusCode === 'number' ? e.statusCode : 500;
    if (status >= 400 && status < 500) {
      send(status, status === 400 ? 'invalid_input' : 'client_error', printable(String(e.message ?? 'bad request'), 200));
      return;
    }
    if (isConnectionLoss(err)) {
      // A lost or refused connection (Postgres restarting): nothing committed, the same request may be sent again.
      log.warn({ err, requestId }, 'database unavailable: answered 503');
      res.set('Retry-After', '2');
      send(503, 'unavailable', 'database unavailable (connection lost or refused); retry after Retry-After seconds');
      return;
    }
    log.error({ err, requestId, method: req.method, path: req.path }, 'unhandled error');
    send(500, 'internal', `internal error (request id ${requestId})`);
  };
}
