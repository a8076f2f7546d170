/**
 * vitest setup file: fails a test that leaves open a pg pool, a BullMQ queue,
 * a Redis server, a child process or a listening server it opened, and a file
 * that leaves any of them open after its afterAll hooks. Registered first, so
 * its after-hooks run last (vitest runs after-hooks in reverse order) and see
 * what the file's own hooks closed. What a vitest fixture opened is vitest's
 * to close (after every hook) and is not checked here.
 */
import type net from 'node:net';
import { afterAll, afterEach, beforeEach } from 'vitest';
import { enterTest, findLeaks, listeningServers } from './leaks.js';

let serversBefore = new Set<net.Server>();
let fileServers = new Set<net.Server>();

// The servers already listening when the file starts (none in a fresh fork) are not the file's.
fileServers = listeningServers();

// vitest hands hooks the fixtures by destructuring: the parameter must be a pattern.
beforeEach(({ task }) => {
  serversBefore = listeningServers();
  enterTest(task.id);
});

afterEach(async ({ task }) => {
  enterTest(undefined);
  const leaks = await findLeaks({ test: task.id, serversBefore });
  if (leaks.length) throw new Error(`test "${task.name}" left open: ${leaks.join('; ')} (close them in the test or its afterEach)`);
});

afterAll(async () => {
  const leaks = await findLeaks({ serversBefore: fileServers });
  if (leaks.length) throw new Error(`the file left open after its afterAll hooks: ${leaks.join('; ')}`);
});
