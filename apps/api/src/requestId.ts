import { randomUUID } from 'node:crypto';
import type { RequestHandler } from 'express';

/** A client's id is kept when it is short and plain, so it cannot forge log lines. */
const SANE = /^[A-Za-z0-9._:-]{1,128}$/;

/** Gives every request an id (the client's X-Request-Id if sane), returned as X-Request-Id and logged with errors. */
export function requestId(): RequestHandler {
  return (req, res, next) => {
    const given = req.get('x-request-id');
    const id = given !== undefined && SANE.test(given) ? given : randomUUID();
    res.locals.requestId = id;
    res.set('X-Request-Id', id);
    next();
  };
}
