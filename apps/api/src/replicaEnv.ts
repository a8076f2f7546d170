import { z } from 'zod';

/** Replicas one API process routes searches to, at most. */
export const MAX_SEARCH_REPLICAS = 16;

/**
 * KDB_SEARCH_DATABASE_URL: one or more postgres:// URLs, comma-separated,
 * none repeated. Messages name the position of a bad URL, never its text
 * (it may hold a password).
 */
export const searchDatabaseUrls = z.string().transform((text, ctx) => {
  const parts = text.split(',').map((p) => p.trim());
  if (parts.length > MAX_SEARCH_REPLICAS) {
    ctx.addIssue({ code: 'custom', message: `names ${parts.length} URLs; at most ${MAX_SEARCH_REPLICAS} replicas are allowed` });
    return z.NEVER;
  }
  const urls: string[] = [];
  for (const [i, part] of parts.entries()) {
    let url: URL | undefined;
    try {
      url = new URL(part);
    } catch {
      url = undefined;
    }
    if (!url || (url.protocol !== 'postgres:' && url.protocol !== 'postgresql:') || !url.hostname) {
      ctx.addIssue({ code: 'custom', message: `URL ${i + 1} of ${parts.length} is not a postgres://host[:port]/database URL (comma-separated URLs are allowed)` });
      return z.NEVER;
    }
    if (urls.includes(part)) {
      ctx.addIssue({ code: 'custom', message: `URL ${i + 1} of ${parts.length} repeats an earlier one` });
      return z.NEVER;
    }
    urls.push(part);
  }
  return urls;
});

/** KDB_REPLICA_MAX_LAG: a duration in seconds or minutes (30s, 2m), 1 s to 1 h; parsed to seconds. */
export const replicaMaxLag = z
  .string()
  .regex(/^\d{1,4}\s*[sm]$/i, 'must be a duration such as 30s or 2m (seconds or minutes)')
  .transform((t) => Number(t.slice(0, -1).trim()) * (t.trim().toLowerCase().endsWith('m') ? 60 : 1))
  .refine((s) => s >= 1 && s <= 3600, 'must be 1s to 60m');
