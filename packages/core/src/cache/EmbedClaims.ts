import { setTimeout as sleep } from 'node:timers/promises';
import type { Logger } from 'pino';
import type { RedisClient } from '../redis/createRedis.js';
import { ConfigError } from '../errors.js';
import { withTimeout } from '../util/withTimeout.js';

/** Deletes, or extends, each claim only while it still holds the caller's token: a claim that expired and went to another batch is left alone. */
const RELEASE_LUA = `local n = 0
  for i, key in ipairs(KEYS) do
    if redis.call('GET', key) == ARGV[1] then n = n + redis.call('DEL', key) end
  end
  return n`;
const RENEW_LUA = `local n = 0
  for i, key in ipairs(KEYS) do
    if redis.call('GET', key) == ARGV[1] then n = n + redis.call('PEXPIRE', key, ARGV[2]) end
  end
  return n`;

/** Claims per Redis round trip: a batch of the largest jobs (100,000 ids) goes in slices, so no pipeline or script is unbounded. */
export const CLAIMS_PER_ROUND_TRIP = 2048;

export interface EmbedClaimsOptions {
  /** How long a claim lasts unless its owner renews it, in ms: the texts of a worker that died holding claims are free again after it. Default 10,000. */
  leaseMs?: number;
  /** Longest wait for texts another live batch holds, in ms; past it the waiter embeds them itself (a duplicate call rather than a stalled job). Default 30,000. */
  maxWaitMs?: number;
  /** Pause between looks at the cache while waiting, in ms. Default 100. */
  pollMs?: number;
  /** Bound of each Redis round trip, in ms; past it the batch embeds without claims (they save calls, they are not needed for correctness). Default 2,000. */
  redisTimeoutMs?: number;
  /** Told when Redis refuses or does not answer a claim, renewal or release. Default none. */
  logger?: Logger;
}

/** What a wait for other batches' texts ended with. */
export interface ClaimWait {
  /** Texts found in the cache: another batch embedded them. */
  cached: Set<string>;
  /** Texts the waiter embeds under its own claim (their owner released them without a cache entry, or died and the lease ran out), or without one when Redis failed. */
  claimed: string[];
  /** Texts still held by a live owner at `maxWaitMs`: the waiter embeds them without a claim. */
  unclaimed: string[];
}

/**
 * In-flight claims on texts to embed, shared by every worker through Redis:
 * the embedding cache is only written once a batch's provider calls return,
 * so two batches holding the same text at once (an ingest's job and a
 * PATCH's job for one row, two entities of equal documents) both miss it
 * and both pay the provider. A batch claims its misses first (SET NX PX, one
 * pipelined round trip per CLAIMS_PER_ROUND_TRIP texts), embeds those it
 * got, and waits for the others to reach the cache.
 *
 * A claim is a lease with an owner token: renewed while its batch runs,
 * released (compare-and-delete) once its entries are committed or its batch
 * failed, and free again `leaseMs` after its owner died. A waiter never
 * waits past `maxWaitMs`, and never loses data: what it did not find it
 * embeds itself. Keys are `<prefix>:claim:<model key>:<text hash>`, in the
 * BullMQ prefix's hash tag (one Redis Cluster slot, as pipelines need).
 */
export class EmbedClaims {
  readonly leaseMs: number;
  readonly maxWaitMs: number;
  private readonly pollMs: number;
  private readonly redisTimeoutMs: number;
  private readonly logger: Logger | undefined;

  constructor(
    private readonly redis: RedisClient,
    /** The BullMQ prefix, so the keys share its hash tag. */
    private readonly prefix: string,
    opts: EmbedClaimsOptions = {},
  ) {
    this.leaseMs = checkedMs('leaseMs', opts.leaseMs ?? 10_000, 100);
    this.maxWaitMs = checkedMs('maxWaitMs', opts.maxWaitMs ?? 30_000, 0);
    this.pollMs = checkedMs('pollMs', opts.pollMs ?? 100, 1);
    this.redisTimeoutMs = checkedMs('redisTimeoutMs', opts.redisTimeoutMs ?? 2000, 1);
    this.logger = opts.logger;
  }

  private key(modelKey: string, hash: string): string {
    return `${this.prefix}:claim:${modelKey}:${hash}`;
  }

  /**
   * Claims each free hash for `token`; returns those it got and those another
   * token holds. When Redis fails or does not answer in time, every hash is
   * `mine` (embedded as without claims; any claim set meanwhile is released
   * with the rest).
   */
  async claim(modelKey: string, hashes: readonly string[], token: string): Promise<{ mine: string[]; theirs: string[] }> {
    const mine: string[] = [];
    const theirs: string[] = [];
    try {
      for (let i = 0; i < hashes.length; i += CLAIMS_PER_ROUND_TRIP) {
        const slice = hashes.slice(i, i + CLAIMS_PER_ROUND_TRIP);
        const pipe = this.redis.pipeline();
        for (const h of slice) pipe.set(this.key(modelKey, h), token, 'PX', this.leaseMs, 'NX');
        const replies = await withTimeout(pipe.exec(), this.redisTimeoutMs, 'Redis (embed claims)');
        slice.forEach((h, j) => {
          const [err, reply] = replies?.[j] ?? [new Error('no reply to a claim'), null];
          if (err) throw err;
          (reply === 'OK' ? mine : theirs).push(h);
        });
      }
    } catch (err) {
      this.logger?.warn({ err, texts: hashes.length }, 'embed claims failed: these texts are embedded without them');
      return { mine: [...hashes], theirs: [] };
    }
    return { mine, theirs };
  }

  /** Extends `token`'s claims by a lease; those lost meanwhile stay lost. Never throws: a claim not renewed only ends sooner. */
  async renew(modelKey: string, hashes: readonly string[], token: string): Promise<void> {
    await this.script(RENEW_LUA, modelKey, hashes, [token, String(this.leaseMs)]).catch((err: unknown) => this.logger?.warn({ err }, 'embed claims not renewed'));
  }

  /** Frees `token`'s claims (never another token's). Never throws: the lease ends the claims anyway. */
  async release(modelKey: string, hashes: readonly string[], token: string): Promise<void> {
    await this.script(RELEASE_LUA, modelKey, hashes, [token]).catch((err: unknown) => this.logger?.warn({ err }, 'embed claims not released: they end with their lease'));
  }

  private async script(lua: string, modelKey: string, hashes: readonly string[], args: string[]): Promise<void> {
    for (let i = 0; i < hashes.length; i += CLAIMS_PER_ROUND_TRIP) {
      const keys = hashes.slice(i, i + CLAIMS_PER_ROUND_TRIP).map((h) => this.key(modelKey, h));
      await withTimeout(this.redis.eval(lua, keys.length, ...keys, ...args), this.redisTimeoutMs, 'Redis (embed claims)');
    }
  }

  /**
   * Waits for `hashes`, claimed by other batches, to reach the cache
   * (`lookup` returns those it holds, one statement per look), claiming each
   * that comes free without an entry. Ends when every hash is cached or
   * claimed by `token` (all the rest when Redis fails: see claim), or at
   * `maxWaitMs` (the rest `unclaimed`); throws when `signal` aborts.
   */
  async waitFor(
    modelKey: string,
    hashes: readonly string[],
    token: string,
    lookup: (hashes: string[]) => Promise<Set<string>>,
    signal?: AbortSignal,
  ): Promise<ClaimWait> {
    const out: ClaimWait = { cached: new Set(), claimed: [], unclaimed: [] };
    const deadline = Date.now() + this.maxWaitMs;
    let waiting = [...hashes];
    const settle = (done: Iterable<string>, cached: Set<string>) => {
      const gone = new Set(done);
      for (const h of cached) out.cached.add(h);
      waiting = waiting.filter((h) => !gone.has(h));
    };
    while (waiting.length) {
      const left = deadline - Date.now();
      if (left <= 0) break;
      await sleep(Math.min(this.pollMs, left), undefined, signal ? { signal } : {});
      const found = await lookup(waiting);
      settle(found, found);
      if (!waiting.length) break;
      const { mine } = await this.claim(modelKey, waiting, token);
      if (mine.length === 0) continue;
      // Its owner may have committed the entry and released the claim between the look and the claim.
      const late = await lookup(mine);
      if (late.size) await this.release(modelKey, [...late], token);
      out.claimed.push(...mine.filter((h) => !late.has(h)));
      settle(mine, late);
    }
    out.unclaimed = waiting;
    return out;
  }
}

function checkedMs(name: string, value: number, min: number): number {
  if (!Number.isInteger(value) || value < min || value > 3_600_000) throw new ConfigError(`EmbedClaims: ${name} must be an integer from ${min} to 3600000 ms, not ${value}`);
  return value;
}
