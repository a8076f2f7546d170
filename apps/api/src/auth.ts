import { createHash, timingSafeEqual } from 'node:crypto';
import type { RequestHandler } from 'express';
import { KdbError } from '@kameleondb/core';

const digest = (s: string) => createHash('sha256').update(s).digest();

/** Compares a presented key with the API key in constant time (both hashed to equal length first). */
export function keyMatcher(apiKey: string): (given: string) => boolean {
  const expected = digest(apiKey);
  return (given) => given !== '' && timingSafeEqual(digest(given), expected);
}

/** `Authorization: Bearer <KDB_API_KEY>` on every route behind it. */
export function requireApiKey(apiKey: string): RequestHandler {
  const matches = keyMatcher(apiKey);
  return (req, _res, next) => {
    const match = /^Bearer\s+(.+)$/i.exec(req.get('authorization') ?? '');
    if (!match || !matches(match[1]!.trim())) {
      next(new KdbError('unauthorized', 'missing or invalid API key: send "Authorization: Bearer <KDB_API_KEY>"'));
      return;
    }
    next();
  };
}
