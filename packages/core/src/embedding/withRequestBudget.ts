import { setTimeout as sleep } from 'node:timers/promises';
import type { RedisClient } from '../redis/createRedis.js';
import { withEmbed, type EmbeddingProvider } from './EmbeddingProvider.js';

// Takes `requests` and `tokens` from the current window's budget, or says
// how long until the next window when either would go over.
const TAKE_LUA = `
  local window = tonumber(ARGV[1])
  local now = tonumber(ARGV[2])
  local slot = math.floor(now / window)
  local rk = KEYS[1] .. ':r:' .. slot
  local tk = KEYS[1] .. ':t:' .. slot
  local rpm, tpm = tonumber(ARGV[3]), tonumber(ARGV[4])
  local r = tonumber(redis.call('GET', rk) or '0')
  local t = tonumber(redis.call('GET', tk) or '0')
  local want = tonumber(ARGV[5])
  if (rpm > 0 and r + 1 > rpm) or (tpm > 0 and t > 0 and t + want > tpm) then
    return (slot + 1) * window - now
  end
  redis.call('INCR', rk)
  redis.call('INCRBY', tk, want)
  redis.call('PEXPIRE', rk, window * 2)
  redis.call('PEXPIRE', tk, window * 2)
  return 0`;

export interface RequestBudgetOptions {
  redis: RedisClient;
  /** Redis key prefix of the budget, shared by every worker of the deployment. */
  key: string;
  /** Requests per window (0: no limit). */
  requestsPerWindow: number;
  /** Tokens per window (0: no limit); a single larger request still goes alone. */
  tokensPerWindow: number;
  /** Window length. Default 60,000 ms (per-minute budgets). */
  windowMs?: number;
  /** Tokens of a request; default: characters / 4. */
  countTokens?: (texts: readonly string[]) => number;
  onWait?: (ms: number) => void;
}

/**
 * Requests-per-minute and tokens-per-minute budgets shared by all workers:
 * a fixed-window counter in Redis taken atomically before each request; a
 * request that would overdraw it waits for the next window.
 */
export function withRequestBudget(provider: EmbeddingProvider, opts: RequestBudgetOptions): EmbeddingProvider {
  if (!opts.requestsPerWindow && !opts.tokensPerWindow) return provider;
  const windowMs = opts.windowMs ?? 60_000;
  const count = opts.countTokens ?? ((texts) => Math.ceil(texts.reduce((n, t) => n + t.length, 0) / 4));
  return withEmbed(provider, async (texts, eopts) => {
    const want = count(texts);
    for (;;) {
      const wait = Number(
        await opts.redis.eval(TAKE_LUA, 1, opts.key, String(windowMs), String(Date.now()), String(opts.requestsPerWindow), String(opts.tokensPerWindow), String(want)),
      );
      if (wait <= 0) break;
      opts.onWait?.(wait);
      await sleep(wait, undefined, eopts?.signal ? { signal: eopts.signal } : {});
    }
    return provider.embed(texts, eopts);
  });
}
