import { createHash, timingSafeEqual } from 'node:crypto';
import type { RequestHandler } from 'express';
import { KdbError } from '@kameleondb/core';

const digest = (s: string) => createHash('sha256').update(s).digest();

/** Bearer-token check in constant time (both sides hashed to equal length first). */
export function requireApiKey(apiKey: string): RequestHandler {
  const expected = digest(apiKey);
  return (req, _res, next) => {
    const header = req.get('authorization') ?? '';
    const match = /^Bearer\s+(.+)$/i.exec(header);
    if (!match || !timingSafeEqual(digest(match[1]!.trim()), expected)) {
      next(new KdbError('unauthorized', 'missing or invalid API key: send "Authorization: Bearer <KDB_API_KEY>"'));
      return;
    }
    next();
  };
}
