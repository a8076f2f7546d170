import { isIPv6 } from 'node:net';

export interface BadKeyLimiterOptions {
  /** Wrong keys one client may present per window before it is refused. */
  maxFailures?: number;
  windowMs?: number;
  /** Clients remembered at most; the oldest window is forgotten first. */
  maxClients?: number;
}

/**
 * Counts wrong API keys per client address and refuses a client that
 * presented too many in its window (429 with Retry-After), without even
 * comparing its key, so guessing is capped at `maxFailures` a window per
 * address. Only failures count: a client with the right key from another
 * address is never refused because of someone else's guesses.
 * Memory is bounded by `maxClients`: an attacker with more addresses than
 * that makes the limiter forget the oldest ones (they get a fresh window),
 * it cannot grow the map. IPv6 clients count per /64, the block one host
 * usually holds, so one host cannot rotate through its own addresses.
 * Not express-rate-limit: its memory store keeps every address seen in a
 * window (no cap), and it counts requests, where only wrong keys may count.
 */
export class BadKeyLimiter {
  private readonly maxFailures: number;
  private readonly windowMs: number;
  private readonly maxClients: number;
  /** Insertion order is window-start order: a new window re-inserts its key. */
  private readonly clients = new Map<string, { failures: number; windowEnds: number }>();

  constructor(opts: BadKeyLimiterOptions = {}) {
    this.maxFailures = opts.maxFailures ?? 20;
    this.windowMs = opts.windowMs ?? 60_000;
    this.maxClients = opts.maxClients ?? 10_000;
  }

  static clientOf(address: string | undefined): string {
    const a = (address ?? 'unknown').replace(/^::ffff:(?=\d+\.\d+\.\d+\.\d+$)/i, '');
    if (!isIPv6(a)) return a;
    const groups = expandIPv6(a);
    return `${groups.slice(0, 4).join(':')}::/64`;
  }

  /** Seconds until `client` may try again; 0 when it may try now. */
  retryAfter(client: string, now = Date.now()): number {
    const c = this.clients.get(client);
    if (!c || c.windowEnds <= now || c.failures < this.maxFailures) return 0;
    return Math.ceil((c.windowEnds - now) / 1000);
  }

  fail(client: string, now = Date.now()): void {
    const c = this.clients.get(client);
    if (c && c.windowEnds > now) {
      c.failures += 1;
      return;
    }
    this.clients.delete(client);
    this.evict(now);
    this.clients.set(client, { failures: 1, windowEnds: now + this.windowMs });
  }

  get size(): number {
    return this.clients.size;
  }

  private evict(now: number): void {
    for (const [key, c] of this.clients) {
      if (this.clients.size < this.maxClients && c.windowEnds > now) return;
      this.clients.delete(key);
    }
  }
}

function expandIPv6(a: string): string[] {
  const [head = '', tail = ''] = a.split('::');
  const h = head ? head.split(':') : [];
  const t = a.includes('::') && tail ? tail.split(':') : [];
  const missing = 8 - h.length - t.length;
  return [...h, ...Array.from({ length: Math.max(missing, 0) }, () => '0'), ...t].map((g) => g.toLowerCase().replace(/^0+(?=.)/, ''));
}
