import { setTimeout as sleep } from 'node:timers/promises';
import type { RedisClient } from '../redis/createRedis.js';
import { ProviderError } from '../errors.js';
import { withEmbed, type EmbeddingProvider } from './EmbeddingProvider.js';

// Extends the pause only when the new one ends later (several workers may hit 429 at once).
const PAUSE_LUA = `local left = redis.call('PTTL', KEYS[1])
  if left < tonumber(ARGV[1]) then redis.call('SET', KEYS[1], '1', 'PX', ARGV[1]) end
  return redis.call('PTTL', KEYS[1])`;

export interface SharedBackoffOptions {
  redis: RedisClient;
  /** Redis key of the pause, shared by every worker of the deployment. */
  key: string;
  /** 429s retried in place before the error goes to BullMQ's retries. Default 8. */
  maxRateLimitRetries?: number;
  /** Called with each wait, for logs and metrics. */
  onPause?: (ms: number) => void;
}

/**
 * A 429 slows the whole queue, not only the worker that got it: the worker
 * sets a pause in Redis for the provider's Retry-After (or an exponential
 * backoff with jitter when there is none), and every worker waits it out
 * before its next request. The request is then retried in place, so a rate
 * limit costs no BullMQ attempt; the SDK's own retries are off, so nothing
 * multiplies.
 */
export function withSharedBackoff(provider: EmbeddingProvider, opts: SharedBackoffOptions): EmbeddingProvider {
  const max = opts.maxRateLimitRetries ?? 8;
  return withEmbed(provider, async (texts, eopts) => {
    for (let attempt = 0; ; attempt++) {
      // Checked again after each wait: another worker may have extended the
      // pause (a later 429) while this one slept.
      for (let left = await opts.redis.pttl(opts.key); left > 0; left = await opts.redis.pttl(opts.key)) {
        opts.onPause?.(left);
        await sleep(left, undefined, eopts?.signal ? { signal: eopts.signal } : {});
      }
      try {
        return await provider.embed(texts, eopts);
      } catch (err) {
        if (!(err instanceof ProviderError) || err.status !== 429 || attempt >= max) throw err;
        const backoff = Math.min(60_000, 1000 * 2 ** attempt) * (0.5 + Math.random() / 2);
        await opts.redis.eval(PAUSE_LUA, 1, opts.key, String(Math.ceil(err.retryAfterMs ?? backoff)));
      }
    }
  });
}
