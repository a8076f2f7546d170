import { createHash } from 'node:crypto';

/** SHA-256 (hex) of an already normalized text: the content hash and the cache key. */
export function textHash(normalized: string): string {
  return createHash('sha256').update(normalized, 'utf8').digest('hex');
}
