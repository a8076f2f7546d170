import { z } from 'zod';
import { describe, expect, it } from 'vitest';
import { ConfigError, parseEnv, pipelineEnvShape } from '@kameleondb/core';
import { startApiProcess } from '../../../test-support/processes.js';
import { redisUrl } from '../../../test-support/urls.js';

function configError(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return (err as Error).message;
  }
  throw new Error('expected a ConfigError');
}

describe('parseEnv', () => {
  const schema = z.object({
    ...pipelineEnvShape,
    KDB_API_KEY: z.string().min(16, 'must be at least 16 characters'),
    SOME_TOKEN: z.string().regex(/^t-/, 'must start with t-'),
    DB_PASSWORD: z.string().refine((v) => v.length > 40, { error: (i) => `too short: ${String(i.input)}` }),
    KDB_UPSTREAM_URL: z.string().url().refine((u) => u.startsWith('https:'), 'must be an https URL'),
    KDB_PORT: z.coerce.number().int().max(65535),
  });

  it('names the variable and the rule, never the value of a secret or the password of a URL', () => {
    const message = configError(() =>
      parseEnv(schema, {
        KDB_API_KEY: 'MySecretKey-15c',
        SOME_TOKEN: 'abc-secret-token',
        DB_PASSWORD: 'pw-hunter2-pw',
        KDB_UPSTREAM_URL: 'http://alice:S3cretPassw0rd@upstream.example/v1',
        KDB_DATABASE_URL: 'postgres://kdb:Hunter2Secret@127.0.0.1:notaport/db',
        OPENAI_API_KEY: '',
        KDB_PORT: 'x'.repeat(5000),
      }),
    );
    expect(message).toContain('KDB_API_KEY: must be at least 16 characters (value not shown: the variable holds a secret)');
    expect(message).toContain('SOME_TOKEN: must start with t- (value not shown');
    expect(message).toContain('DB_PASSWORD: too short: *** (value not shown');
    expect(message).toContain('KDB_UPSTREAM_URL: must be an https URL (got "http://alice:***@upstream.example/v1")');
    expect(message).toMatch(/KDB_DATABASE_URL: .* \(value not shown: it may hold credentials\)/);
    for (const secret of ['MySecretKey-15c', 'abc-secret-token', 'hunter2', 'S3cretPassw0rd', 'Hunter2Secret']) expect(message).not.toContain(secret);
    // Other values are still shown, bounded.
    expect(message).toMatch(/KDB_PORT: .* \(got "x{100}…"\)/);
    expect(message.length).toBeLessThan(2000);
  });

  it('keeps secrets out of the API process output when it refuses to start', async () => {
    const env = { KDB_REDIS_URL: redisUrl(), KDB_PORT: '0' };
    const failure = async (extra: Record<string, string>) => {
      const err = await startApiProcess({ ...env, ...extra }).then(
        () => undefined,
        (e: Error) => e,
      );
      expect(err, 'the API must refuse to start').toBeInstanceOf(Error);
      return err!.message;
    };
    const short = await failure({ KDB_API_KEY: 'MySecretKey-15c', KDB_DATABASE_URL: 'postgres://postgres@127.0.0.1:5432/x' });
    expect(short).toContain('KDB_API_KEY: must be at least 16 characters');
    expect(short).not.toContain('MySecretKey-15c');
    const badUrl = await failure({ KDB_API_KEY: 'a-valid-api-key-of-32-characters', KDB_DATABASE_URL: 'postgres://kdb:Hunter2Secret@127.0.0.1:notaport/db' });
    expect(badUrl).toMatch(/KDB_DATABASE_URL: .*\(value not shown: it may hold credentials\)/);
    expect(badUrl).not.toContain('Hunter2Secret');
    expect(badUrl).not.toContain('a-valid-api-key-of-32-characters');
  }, 60_000);
});
