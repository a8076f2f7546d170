import { request } from 'node:http';
import { describe, expect, it } from 'vitest';
import { BadKeyLimiter } from '../src/BadKeyLimiter.js';
import { readEnv } from '../src/env.js';
import type { RunningApi } from '../src/startApi.js';
import { test } from '../../../test-support/fixtures.js';

const KEY = 'limiter-key-0123456789abcdef';

/** One HTTP request from a chosen loopback address (all of 127/8 is this host), so each address is another client. */
function from(localAddress: string, url: string, headers: Record<string, string>): Promise<{ status: number; headers: Record<string, string | string[] | undefined>; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { localAddress, headers, agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

test.override('apiEnv', { KDB_API_KEY: KEY });

describe('bad API keys through real HTTP', () => {
  let api: RunningApi;

  test.beforeAll(({ api: a }) => {
    api = a;
  });

  it('answers 401 on /v1 and /metrics with WWW-Authenticate: Bearer', async () => {
    for (const path of ['/v1/entities', '/metrics']) {
      const r = await from('127.0.0.1', api.url + path, { authorization: 'Bearer nope' });
      expect(r.status).toBe(401);
      expect(r.headers['www-authenticate']).toMatch(/^Bearer\b/);
      expect((await from('127.0.0.1', api.url + path, {})).headers['www-authenticate']).toMatch(/^Bearer\b/);
    }
  });

  it('refuses a client after 20 wrong keys a minute with 429 and Retry-After; other addresses and missing keys are not affected', async () => {
    const attacker = '127.0.0.2';
    const other = '127.0.0.3';
    const url = `${api.url}/v1/entities`;
    const guesses = [];
    for (let i = 0; i < 20; i++) guesses.push((await from(attacker, url, { authorization: `Bearer guess-${i}-000000000000` })).status);
    expect(guesses).toEqual(Array(20).fill(401));
    const refused = await from(attacker, url, { authorization: 'Bearer guess-21-00000000000' });
    expect(refused.status).toBe(429);
    expect(Number(refused.headers['retry-after'])).toBeGreaterThan(0);
    expect(Number(refused.headers['retry-after'])).toBeLessThanOrEqual(60);
    expect(JSON.parse(refused.body).error.message).toMatch(/too many wrong API keys from this address: try again in \d+ s/);
    // The blocked address is refused before its key is compared, the right key included (documented: shared NAT).
    expect((await from(attacker, url, { authorization: `Bearer ${KEY}` })).status).toBe(429);
    // The dashboard shares the budget: Basic guesses from that address are refused too.
    const basic = `Basic ${Buffer.from('ops:another-guess-00000').toString('base64')}`;
    expect((await from(attacker, `${api.url}/admin/queues`, { authorization: basic })).status).toBe(429);
    // Another client with the right key is never refused because of someone else's failures.
    expect((await from(other, url, { authorization: `Bearer ${KEY}` })).status).toBe(200);
    expect((await from(other, url, { authorization: 'Bearer one-wrong-0000000000' })).status).toBe(401);
    expect((await from(other, url, { authorization: `Bearer ${KEY}` })).status).toBe(200);
  });

  it('keeps the limiter bounded in memory whatever the number of attacking addresses', () => {
    const limiter = new BadKeyLimiter({ maxFailures: 2, windowMs: 60_000, maxClients: 100 });
    const now = Date.now();
    for (let i = 0; i < 50_000; i++) limiter.fail(`10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`, now);
    expect(limiter.size).toBeLessThanOrEqual(100);
    // Recent clients are still counted and refused.
    limiter.fail('10.0.195.79', now);
    expect(limiter.retryAfter('10.0.195.79', now)).toBe(60);
    // A window ends by itself.
    expect(limiter.retryAfter('10.0.195.79', now + 60_001)).toBe(0);
    // One IPv6 host's addresses count as one client (its /64).
    expect(BadKeyLimiter.clientOf('2001:db8:1:2:aaaa::1')).toBe(BadKeyLimiter.clientOf('2001:db8:1:2:bbbb:cccc:dddd:eeee'));
    expect(BadKeyLimiter.clientOf('::ffff:127.0.0.2')).toBe('127.0.0.2');
  });

  it('refuses at start-up an API key that is blank or mostly blank, naming the variable and the rule', () => {
    expect(() => readEnv({ KDB_API_KEY: ' '.repeat(16) })).toThrow(/KDB_API_KEY: must have at least 16 characters that are not whitespace/);
    expect(() => readEnv({ KDB_API_KEY: `${' '.repeat(15)}k` })).toThrow(/KDB_API_KEY/);
    expect(readEnv({ KDB_API_KEY: 'k'.repeat(16) }).KDB_API_KEY).toBe('k'.repeat(16));
  });
});
