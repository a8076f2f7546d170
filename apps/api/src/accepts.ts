import type { Request, RequestHandler } from 'express';
import type { z } from 'zod';
import { ValidationError } from '@kameleondb/core';
import { checkText } from './assertCleanJson.js';
import { parseBody } from './parseBody.js';
import { parseQueryString } from './parseQueryString.js';
import { hasBody, JSON_TYPE, mediaType, NDJSON_TYPES, readJsonBody } from './requestBody.js';

/**
 * What a route takes in its body:
 * - `none`: no body at all;
 * - `json`: a JSON body is required;
 * - `optional-json`: no body, or JSON;
 * - `records`: JSON or NDJSON, NDJSON left as a stream (`res.locals.ndjson`).
 */
export type BodyKind = 'none' | 'json' | 'optional-json' | 'records';

export interface Accepts {
  /** Every query parameter the route takes; any other is refused. Absent: none. */
  query?: z.ZodObject;
  body: BodyKind;
}

const rawQuery = (req: Request) => {
  const i = req.originalUrl.indexOf('?');
  return i < 0 ? '' : req.originalUrl.slice(i + 1);
};

/**
 * Checks a request against what its route takes before the handler runs, so
 * no handler acts on a guess: path parameters, query parameters (unknown
 * ones named, none given twice) and the body (media type, encoding, size).
 * Results: `res.locals.query`, `res.locals.body`, `res.locals.ndjson`.
 */
export function accepts(spec: Accepts, limit: number): RequestHandler {
  const allowed = spec.query ? Object.keys(spec.query.shape) : [];
  return async (req, res, next) => {
    for (const [name, value] of Object.entries(req.params)) for (const v of [value].flat()) checkText(v, `path parameter ${name}`);
    const query = parseQueryString(rawQuery(req));
    const unknown = Object.keys(query).filter((k) => !allowed.includes(k));
    if (unknown.length > 0) {
      throw new ValidationError(
        `unknown query parameter${unknown.length > 1 ? 's' : ''} ${unknown.map((k) => JSON.stringify(k)).join(', ')}: ${allowed.length ? `this route takes ${allowed.join(', ')}` : 'this route takes none'}`,
        { unknown, allowed },
      );
    }
    res.locals.query = spec.query ? parseBody(spec.query, { ...query }) : {};

    const present = hasBody(req);
    const route = `${req.method} ${req.baseUrl}${req.route?.path ?? ''}`;
    if (spec.body === 'none') {
      if (present) throw new ValidationError(`${route} takes no body`);
    } else if (spec.body === 'optional-json' && !present && req.get('content-type') === undefined) {
      res.locals.body = undefined;
    } else if (!present) {
      throw new ValidationError(`body is empty: send ${spec.body === 'records' ? 'a JSON object, a JSON array of objects or NDJSON' : 'a JSON object'}`);
    } else if (spec.body === 'records' && NDJSON_TYPES.includes(mediaType(req, [JSON_TYPE, ...NDJSON_TYPES]))) {
      res.locals.ndjson = true;
    } else {
      mediaType(req, [JSON_TYPE]);
      res.locals.body = await readJsonBody(req, limit);
    }
    next();
  };
}
