// pipeline.e2e.test.ts's tests, with the API and workers on a 6-node Redis Cluster.
import { expect } from 'vitest';
import { test } from '../../../test-support/fixtures.js';
import { queueKeysOnCluster } from '../../../test-support/redisCluster.js';
import { runOnRedisCluster } from '../../../test-support/startPipeline.js';

runOnRedisCluster();
await import('./pipeline.e2e.test.js');

test('ran on the Redis Cluster: the queue keys are there, all in one slot', async ({ pipeline }) => {
  const { keys, slots } = await queueKeysOnCluster(pipeline);
  expect(keys).toBeGreaterThan(0);
  expect(slots).toHaveLength(1);
});
