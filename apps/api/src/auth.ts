import { createHash, timingSafeEqual } from 'node:crypto';
import type { Request, RequestHandler } from 'express';
import { KdbError } from '@kameleondb/core';
import { BadKeyLimiter } from './BadKeyLimiter.js';
import { HttpError } from './HttpError.js';

const digest = (s: string) => createHash('sha256').update(s).digest();

/** Compares a presented key with the API key in constant time (both hashed to equal length first). */
export function keyMatcher(apiKey: string): (given: string) => boolean {
  const expected = digest(apiKey);
  return (given) => given !== '' && timingSafeEqual(digest(given), expected);
}

/**
 * Checks a presented key through the limiter: a client over its budget of
 * wrong keys is refused (429) before its key is even compared. Returns
 * true for the right key; a missing key (a browser's first request) is not
 * a guess and is not counted.
 */
export function limitedMatcher(apiKey: string, limiter: BadKeyLimiter): (req: Request, given: string) => boolean {
  const matches = keyMatcher(apiKey);
  return (req, given) => {
    const client = BadKeyLimiter.clientOf(req.socket.remoteAddress);
    const wait = limiter.retryAfter(client);
    if (wait > 0) {
      throw new HttpError(429, 'too_many_requests', `too many wrong API keys from this address: try again in ${wait} s`, { retryAfter: wait }, {
        'Retry-After': String(wait),
      });
    }
    if (given === '') return false;
    if (matches(given)) return true;
    limiter.fail(client);
    return false;
  };
}

/** `Authorization: Bearer <KDB_API_KEY>` on every route behind it; a 401 says so in WWW-Authenticate. */
export function requireApiKey(apiKey: string, limiter: BadKeyLimiter): RequestHandler {
  const check = limitedMatcher(apiKey, limiter);
  return (req, res, next) => {
    const match = /^Bearer\s+(.+)$/i.exec(req.get('authorization') ?? '');
    if (!check(req, match ? match[1]!.trim() : '')) {
      res.set('WWW-Authenticate', 'Bearer realm="kameleondb"');
      next(new KdbError('unauthorized', 'missing or invalid API key: send "Authorization: Bearer <KDB_API_KEY>"'));
      return;
    }
    next();
  };
}
