import { describe, expect, it } from 'vitest';
import { ConfigError, hashTagOf, redisTargetOf } from '@kameleondb/core';
import { readEnv as readApiEnv } from '../../../apps/api/src/env.js';
import { readEnv as readWorkerEnv } from '../../../apps/worker/src/env.js';

const base = { KDB_AUTH: 'disabled' };
const readers = { api: readApiEnv, worker: readWorkerEnv } as const;

function refused(read: (env: Record<string, string>) => unknown, env: Record<string, string>): string {
  try {
    read({ ...base, ...env });
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return (err as Error).message;
  }
  throw new Error('expected the environment to be refused');
}

describe.each(Object.entries(readers))('KDB_REDIS_MODE and KDB_REDIS_URL (%s)', (_, read) => {
  it('takes seed nodes of a cluster, comma-separated, and defaults to one server', () => {
    const env = read({ ...base, KDB_REDIS_MODE: 'cluster', KDB_REDIS_URL: 'redis://10.0.0.1:7000, redis://10.0.0.2:7000,rediss://u:pw@10.0.0.3:7000' });
    expect(redisTargetOf(env)).toEqual({ mode: 'cluster', urls: ['redis://10.0.0.1:7000', 'redis://10.0.0.2:7000', 'rediss://u:pw@10.0.0.3:7000'] });
    expect(redisTargetOf(read(base))).toEqual({ mode: 'single', urls: ['redis://127.0.0.1:6379'] });
  });

  it('refuses several URLs in single mode, naming the variable and the way out', () => {
    expect(refused(read, { KDB_REDIS_URL: 'redis://a:1,redis://b:1' })).toContain(
      'KDB_REDIS_URL: names 2 URLs but KDB_REDIS_MODE is single: give one URL, or set KDB_REDIS_MODE=cluster',
    );
  });

  it('refuses a queue prefix without a hash tag, and a database other than 0, in cluster mode', () => {
    for (const prefix of ['kdb', '{}kdb', 'kdb{']) {
      expect(refused(read, { KDB_REDIS_MODE: 'cluster', KDB_REDIS_URL: 'redis://a:1', KDB_QUEUE_PREFIX: prefix })).toMatch(/KDB_QUEUE_PREFIX: must hold a Redis Cluster hash tag/);
    }
    expect(refused(read, { KDB_REDIS_MODE: 'cluster', KDB_REDIS_URL: 'redis://a:1,redis://b:1/2' })).toContain('entry 2 selects database "2"; Redis Cluster has database 0 only');
    // A prefix without a tag is fine on one server.
    expect(read({ ...base, KDB_QUEUE_PREFIX: 'kdb' }).KDB_QUEUE_PREFIX).toBe('kdb');
  });

  it('refuses other schemes, unknown modes and endless lists, never showing a password', () => {
    const bad = refused(read, { KDB_REDIS_MODE: 'cluster', KDB_REDIS_URL: 'redis://u:S3cretPw@a:1,http://u:S3cretPw@b:1,nonsense' });
    expect(bad).toContain('entry 2 has scheme "http:"; allowed: redis:, rediss:');
    expect(bad).toContain('entry 3 is not a URL');
    expect(bad).not.toContain('S3cretPw');
    expect(refused(read, { KDB_REDIS_MODE: 'sentinel' })).toMatch(/KDB_REDIS_MODE: .*"single"\|"cluster"|KDB_REDIS_MODE: .*single.*cluster/);
    const many = Array.from({ length: 65 }, (_, i) => `redis://n${i}:7000`).join(',');
    expect(refused(read, { KDB_REDIS_MODE: 'cluster', KDB_REDIS_URL: many })).toContain('names 65 URLs; at most 64 are allowed');
  });
});

describe('hashTagOf', () => {
  it('reads the tag as Redis Cluster does: first `{`, first `}` after it, not empty', () => {
    expect(hashTagOf('{kdb}')).toBe('kdb');
    expect(hashTagOf('app:{kdb}:x{y}')).toBe('kdb');
    expect(hashTagOf('{}{kdb}')).toBeNull();
    expect(hashTagOf('kdb')).toBeNull();
    expect(hashTagOf('}{kdb')).toBeNull();
  });
});
