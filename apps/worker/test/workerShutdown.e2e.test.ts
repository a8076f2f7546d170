import { Queue } from 'bullmq';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startPipeline, type Pipeline } from '../../../test-support/startPipeline.js';
import { startWorkerProcess, stopAll, type ChildApp } from '../../../test-support/processes.js';
import { readVectors } from '../../../test-support/testDatabase.js';
import { redisUrl } from '../../../test-support/urls.js';
import { createRedis, EMBED_QUEUE } from '@kameleondb/core';

describe('worker SIGTERM', () => {
  let p: Pipeline;
  let db: Pipeline['db'];
  let fake: NonNullable<Pipeline['fake']>;
  let env: Record<string, string>;
  let url: string;
  let prefix: string;
  const children: ChildApp[] = [];

  beforeAll(async () => {
    p = await startPipeline({ workers: 0, openai: { delayMs: 1500 } });
    ({ db, env, prefix } = p);
    fake = p.fake!;
    url = p.api.url;
  });
  afterAll(async () => {
    await stopAll(children);
    await p.close();
  });

  it('finishes the batch in hand, takes no new job, and exits 0 with nothing stalled', async () => {
    const json = { 'content-type': 'application/json' };
    await fetch(`${url}/v1/entities`, { method: 'POST', headers: json, body: JSON.stringify({ name: 'n', fields: { t: 'text' }, embedFields: ['t'] }) });
    const worker = await startWorkerProcess(env);
    children.push(worker);
    const first = await fetch(`${url}/v1/entities/n/records`, { method: 'POST', headers: json, body: JSON.stringify([{ t: 'a' }, { t: 'b' }]) });
    const firstIds = ((await first.json()) as { ids: string[] }).ids;
    while (fake.requests.length === 0) await new Promise((r) => setTimeout(r, 10));
    // The provider request is in flight: stop the worker, then enqueue more.
    worker.kill('SIGTERM');
    await new Promise((r) => setTimeout(r, 100));
    const second = await fetch(`${url}/v1/entities/n/records`, { method: 'POST', headers: json, body: JSON.stringify({ t: 'c' }) });
    const secondIds = ((await second.json()) as { ids: string[] }).ids;

    expect(await worker.exited).toBe(0);
    expect(worker.output()).toMatch(/"msg":"embed worker stopped"/);
    const rows = await readVectors(db.pool, [...firstIds, ...secondIds]);
    expect(firstIds.map((id) => rows.get(id)!.status)).toEqual(['ready', 'ready']);
    expect(rows.get(secondIds[0]!)!.status).toBe('pending');
    const q = new Queue(EMBED_QUEUE, { connection: createRedis(redisUrl()), prefix });
    expect(await q.getJobCounts('active', 'waiting', 'completed')).toEqual({ active: 0, waiting: 1, completed: 1 });
    await q.close();
    expect(fake.requests).toHaveLength(1);
  });
});
