import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { startPrivateRedis } from '../privateRedis.js';
import { REDIS_CLUSTER_SCRIPT, startRedisCluster } from '../redisCluster.js';

const run = promisify(execFile);
const script = (args: string[], env: NodeJS.ProcessEnv = process.env) =>
  run('bash', [REDIS_CLUSTER_SCRIPT, ...args], { env, timeout: 60_000 }).then(
    (r) => ({ code: 0, ...r }),
    (e: { code: number; stdout: string; stderr: string }) => ({ code: e.code, stdout: e.stdout, stderr: e.stderr }),
  );

describe('scripts/redis-cluster.sh', () => {
  it('starts 3 masters and 3 replicas, does nothing when started again, and stop removes exactly its processes and folder, twice', async () => {
    const c = await startRedisCluster(7);
    const node = c.node(c.base);
    try {
      const before = String(await node.cluster('NODES')).trim();
      const roles = before.split('\n').map((l) => (l.split(' ')[2]!.includes('master') ? 'master' : 'replica'));
      expect(roles.sort()).toEqual(['master', 'master', 'master', 'replica', 'replica', 'replica']);
      expect(String(await node.cluster('INFO'))).toContain('cluster_state:ok');
      const again = await script(['start', String(c.base)], c.scriptEnv);
      expect(again.code).toBe(0);
      expect(again.stderr).toContain('already running');
      expect(again.stdout.trim()).toBe(c.urls.join(','));
      // The same six nodes (ids unchanged), not a new cluster.
      expect(String(await node.cluster('NODES')).trim().split('\n').map((l) => l.split(' ')[0]).sort()).toEqual(before.split('\n').map((l) => l.split(' ')[0]).sort());
    } finally {
      node.disconnect();
      await c.stop();
    }
    const dir = `${c.scriptEnv.KDB_REDIS_CLUSTER_DIR}-${c.base}`;
    expect(existsSync(dir)).toBe(false);
    const probe = await run('redis-cli', ['-p', String(c.base), 'ping']).then((r) => r.stdout, () => 'refused');
    expect(probe).not.toContain('PONG');
    expect((await script(['stop', String(c.base)], c.scriptEnv)).code).toBe(0);
  });

  it('refuses ports where a Redis that is not its own answers, and leaves that server alone', async () => {
    const other = await startPrivateRedis(5);
    try {
      const r = await script(['start', String(other.port)], { ...process.env, KDB_REDIS_CLUSTER_DIR: `/tmp/kdb-redis-cluster-refusal-${process.pid}` });
      expect(r.code).toBe(1);
      expect(r.stderr).toContain(`port ${other.port} already answers Redis and is not this cluster's node`);
      expect((await run('redis-cli', ['-p', String(other.port), 'ping'])).stdout.trim()).toBe('PONG');
      expect((await script(['start', 'abc'])).stderr).toContain('BASE_PORT must be a number from 1024 to 65529 (got "abc")');
    } finally {
      await other.close();
    }
  });
});
