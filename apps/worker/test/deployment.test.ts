import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const ROOT = fileURLToPath(new URL('../../..', import.meta.url));

/** docker-compose (Debian's v1, which validates without a Docker engine) or the v2 plugin. */
function compose(args: string[], env: Record<string, string>) {
  return new Promise<{ code: number; stdout: string; stderr: string }>((resolve) => {
    execFile('docker-compose', ['-f', 'docker-compose.yml', ...args], { cwd: ROOT, env: { PATH: process.env.PATH ?? '', ...env } }, (err, stdout, stderr) =>
      resolve({ code: err ? Number(err.code ?? 1) : 0, stdout, stderr }),
    );
  });
}

describe('deployment files', () => {
  it('docker-compose.yml is valid and runs the stack the README describes', async () => {
    const ok = await compose(['config', '-q'], { KDB_API_KEY: 'compose-test-key-0123' });
    expect(ok).toMatchObject({ code: 0, stderr: '' });
    const { stdout } = await compose(['config'], { KDB_API_KEY: 'compose-test-key-0123' });
    expect((await compose(['config', '--services'], { KDB_API_KEY: 'compose-test-key-0123' })).stdout.trim().split('\n').sort()).toEqual(['api', 'postgres', 'postgres-replica', 'redis', 'worker']);
    // The replica is optional: only the `replica` profile starts it.
    expect(stdout).toMatch(/postgres-replica:[\s\S]*?profiles:\n\s+- replica\n/);
    // YAML output folds the script's long lines: its words, not its lines.
    for (const word of ['pg_basebackup', '-R', 'hot_standby=on']) expect(stdout).toContain(word);
    expect(stdout).toMatch(/KDB_SEARCH_DATABASE_URL/);
    expect(stdout).toMatch(/image: pgvector\/pgvector:pg\d+/);
    expect(stdout).toMatch(/- --appendonly\n\s+- ["']?yes["']?\n/);
    expect(stdout).toMatch(/replicas: 2/);
    expect(stdout.match(/healthcheck:/g)).toHaveLength(5);
    expect(stdout).toMatch(/models:\/models/);
    // Without an API key the stack refuses to start, saying why.
    const missing = await compose(['config', '-q'], {});
    expect(missing.code).not.toBe(0);
    expect(missing.stderr).toMatch(/set KDB_API_KEY/);
  });

  it('the Dockerfile builds with the commands the test script runs, and runs as a non-root user', async () => {
    const dockerfile = await readFile(`${ROOT}Dockerfile`, 'utf8');
    const testScript = await readFile(`${ROOT}scripts/test.sh`, 'utf8');
    for (const cmd of ['pnpm install --frozen-lockfile', 'pnpm build']) {
      expect(dockerfile).toContain(`RUN ${cmd}`);
      expect(testScript).toContain(cmd.replace('pnpm build', 'pnpm run build'));
    }
    expect(dockerfile.match(/^FROM /gm)).toHaveLength(2);
    expect(dockerfile).toMatch(/pnpm install --frozen-lockfile --prod/);
    expect(dockerfile).toMatch(/^USER node$/m);
  });
});
