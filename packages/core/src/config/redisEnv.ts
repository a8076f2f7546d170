import { z } from 'zod';
import { REDIS_MODES, type RedisMode, type RedisTarget } from '../redis/createRedis.js';

/** Most seed nodes KDB_REDIS_URL may name. */
export const MAX_REDIS_URLS = 64;

/**
 * The hash tag of a key prefix as Redis Cluster reads it: the text between
 * the first `{` and the first `}` after it, when not empty. Keys starting
 * with a prefix that has one all live in one slot.
 */
export function hashTagOf(prefix: string): string | null {
  const open = prefix.indexOf('{');
  if (open < 0) return null;
  const close = prefix.indexOf('}', open + 1);
  return close > open + 1 ? prefix.slice(open + 1, close) : null;
}

const splitUrls = (v: string) => v.split(',').map((s) => s.trim());

/** KDB_REDIS_MODE and KDB_REDIS_URL, spread into pipelineEnvShape. */
export const redisEnvShape = {
  /** `single` (one server) or `cluster` (Redis Cluster: KDB_REDIS_URL names seed nodes). */
  KDB_REDIS_MODE: z.enum(REDIS_MODES).default('single'),
  /** One Redis URL, or in cluster mode one or more comma-separated seed nodes. */
  KDB_REDIS_URL: z
    .string()
    .max(MAX_REDIS_URLS * 300, `must be at most ${MAX_REDIS_URLS} URLs`)
    .superRefine((v, ctx) => {
      const urls = splitUrls(v);
      if (urls.length > MAX_REDIS_URLS) ctx.addIssue({ code: 'custom', message: `names ${urls.length} URLs; at most ${MAX_REDIS_URLS} are allowed` });
      urls.forEach((raw, i) => {
        let u: URL | undefined;
        try {
          u = new URL(raw);
        } catch {
          u = undefined;
        }
        // The entry is named by position only: it may carry a password.
        const which = urls.length > 1 ? `entry ${i + 1}` : 'the value';
        if (!u) ctx.addIssue({ code: 'custom', message: `${which} is not a URL; allowed: redis://[user:password@]host:port[/db] or rediss://…` });
        else if (u.protocol !== 'redis:' && u.protocol !== 'rediss:') ctx.addIssue({ code: 'custom', message: `${which} has scheme "${u.protocol}"; allowed: redis:, rediss:` });
        else if (!u.hostname) ctx.addIssue({ code: 'custom', message: `${which} has no host` });
      });
    })
    .default('redis://127.0.0.1:6379'),
};

/**
 * The rules that span variables, for the apps' superRefine: single mode takes
 * one URL; cluster mode takes database 0 only (Redis Cluster has no other)
 * and a queue prefix with a hash tag (BullMQ's scripts and ours touch several
 * keys at once, which Redis Cluster allows only within one slot).
 */
export function checkRedisEnv(e: { KDB_REDIS_MODE: RedisMode; KDB_REDIS_URL: string; KDB_QUEUE_PREFIX: string }, ctx: z.RefinementCtx): void {
  const urls = splitUrls(e.KDB_REDIS_URL);
  if (e.KDB_REDIS_MODE === 'single' && urls.length > 1) {
    ctx.addIssue({ code: 'custom', path: ['KDB_REDIS_URL'], message: `names ${urls.length} URLs but KDB_REDIS_MODE is single: give one URL, or set KDB_REDIS_MODE=cluster for seed nodes of a Redis Cluster` });
  }
  if (e.KDB_REDIS_MODE !== 'cluster') return;
  urls.forEach((raw, i) => {
    const db = URL.canParse(raw) ? new URL(raw).pathname.replace(/^\//, '') : '';
    if (db !== '' && db !== '0') {
      ctx.addIssue({ code: 'custom', path: ['KDB_REDIS_URL'], message: `entry ${i + 1} selects database "${db.slice(0, 20)}"; Redis Cluster has database 0 only: leave the path out` });
    }
  });
  if (!hashTagOf(e.KDB_QUEUE_PREFIX)) {
    ctx.addIssue({
      code: 'custom',
      path: ['KDB_QUEUE_PREFIX'],
      message: 'must hold a Redis Cluster hash tag (a non-empty `{…}`, as in the default `{kdb}`) when KDB_REDIS_MODE is cluster: every key of the queues must live in one slot',
    });
  }
}

/** The Redis target the environment names (validated by redisEnvShape and checkRedisEnv). */
export function redisTargetOf(e: { KDB_REDIS_MODE: RedisMode; KDB_REDIS_URL: string }): RedisTarget {
  return { mode: e.KDB_REDIS_MODE, urls: splitUrls(e.KDB_REDIS_URL) };
}
