import { createServer } from 'node:net';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { createPool, enqueueEmbed, HashProvider, isConnectionLoss, ProviderError, startEmbedWorker } from '@kameleondb/core';
import { withTransaction } from '../src/store/withTransaction.js';
import { test } from '../../../test-support/fixtures.js';
import type { TestDatabase } from '../../../test-support/testDatabase.js';
import { createTestEmbedQueue } from '../../../test-support/testEmbedQueue.js';
import { redisUrl } from '../../../test-support/urls.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('isConnectionLoss', () => {
  it('knows a lost or refused database connection, and leaves a provider outage to the provider retry budget', () => {
    const refused = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:5432'), { code: 'ECONNREFUSED' });
    expect(isConnectionLoss(Object.assign(new Error('terminating connection due to administrator command'), { code: '57P01' }))).toBe(true);
    expect(isConnectionLoss(new Error('Connection terminated unexpectedly'))).toBe(true);
    expect(isConnectionLoss(new AggregateError([refused], ''))).toBe(true);
    expect(isConnectionLoss(new Error('COPY failed', { cause: refused }))).toBe(true);
    expect(isConnectionLoss(new ProviderError('provider unreachable: connection refused', { retryable: true, cause: refused }))).toBe(false);
    expect(isConnectionLoss(Object.assign(new Error('duplicate key value violates unique constraint'), { code: '23505' }))).toBe(false);
  });
});

describe('a Postgres session lost while a client is checked out', () => {
  let db: TestDatabase;
  test.beforeAll(({ db: d }) => {
    db = d;
  });

  it('rejects the transaction with a connection-loss error (no uncaught error event), and the pool replaces the client', async () => {
    const pool = createPool({ connectionString: db.url, max: 1, applicationName: 'kdb-loss-test' });
    // What would end a real process: an 'error' event with no listener.
    const uncaught: unknown[] = [];
    const onUncaught = (err: unknown) => uncaught.push(err);
    process.on('uncaughtException', onUncaught);
    try {
      const failed = await withTransaction(pool, async (client) => {
        const { rows } = await client.query<{ pid: number }>('SELECT pg_backend_pid() AS pid');
        // 57P01 on a session between two statements, as a server restart sends it to every session.
        await db.pool.query('SELECT pg_terminate_backend($1)', [rows[0]!.pid]);
        await sleep(300);
        await client.query('SELECT 1');
      }).then(
        () => null,
        (err: unknown) => err,
      );
      expect(uncaught).toEqual([]);
      expect(failed).toBeInstanceOf(Error);
      expect(isConnectionLoss(failed), String(failed)).toBe(true);
      // The broken client is not handed out again.
      expect(await withTransaction(pool, async (c) => (await c.query<{ n: number }>('SELECT 1 AS n')).rows[0]!.n)).toBe(1);
    } finally {
      process.off('uncaughtException', onUncaught);
      await pool.end();
    }
  });
});

describe('embed jobs while Postgres refuses connections', () => {
  it('are postponed without spending attempts, so no outage makes them fail for good', async () => {
    const port = await new Promise<number>((resolve) => {
      const s = createServer().listen(0, '127.0.0.1', () => {
        const p = (s.address() as { port: number }).port;
        s.close(() => resolve(p));
      });
    });
    const pool = createPool({ connectionString: `postgres://postgres@127.0.0.1:${port}/none`, max: 2 });
    const { queue, prefix, close } = createTestEmbedQueue();
    const worker = await startEmbedWorker({ pool, provider: new HashProvider(), redis: redisUrl(), prefix, logger: pino({ level: 'silent' }) });
    try {
      await enqueueEmbed(queue, ['00000000-0000-4000-8000-000000000001'], { chunkSize: 1 });
      const deadline = Date.now() + 30_000;
      let job = (await queue.getJobs(['waiting', 'active', 'delayed', 'failed']))[0];
      while ((job?.attemptsStarted ?? 0) < 3 && Date.now() < deadline) {
        await sleep(200);
        job = (await queue.getJobs(['waiting', 'active', 'delayed', 'failed']))[0];
      }
      expect(job).toBeDefined();
      expect(job!.attemptsStarted).toBeGreaterThanOrEqual(3);
      expect({ attemptsMade: job!.attemptsMade, failed: (await queue.getJobCounts('failed')).failed }).toEqual({ attemptsMade: 0, failed: 0 });
    } finally {
      await worker.close();
      await close();
      await pool.end();
    }
  });
});
