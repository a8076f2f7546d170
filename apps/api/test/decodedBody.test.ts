import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { gzipSync } from 'node:zlib';
import express from 'express';
import { describe, expect, it } from 'vitest';
import { decodedBody } from '../src/requestBody.js';

/**
 * A route may do work (read the entity, open a transaction) between opening
 * the body stream and reading it. A body over the limit errors the stream in
 * that gap; the error must wait for the reader, never be thrown with nobody
 * listening (an uncaught exception ends the API process).
 */
describe('decodedBody', () => {
  it('keeps a limit error for a reader that comes later instead of throwing it uncaught', async () => {
    const LIMIT = 4096;
    const uncaught: unknown[] = [];
    const onUncaught = (err: unknown) => uncaught.push(err);
    process.on('uncaughtException', onUncaught);
    const app = express();
    app.post('/body', async (req, res) => {
      const body = decodedBody(req, LIMIT);
      // The request's bytes arrive and overflow the limit before anyone reads.
      await new Promise((r) => setTimeout(r, 300));
      try {
        for await (const _chunk of body) void _chunk;
        res.status(200).end();
      } catch (err) {
        res.status((err as { status?: number }).status ?? 500).json({ message: (err as Error).message });
      }
    });
    const server = app.listen(0, '127.0.0.1');
    await once(server, 'listening');
    try {
      const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/body`;
      // Empty gzip members: the compressed bytes alone pass the limit.
      const empties = Buffer.concat(Array.from({ length: 1000 }, () => gzipSync('')));
      expect(empties.length).toBeGreaterThan(LIMIT);
      const res = await fetch(url, { method: 'POST', headers: { 'content-encoding': 'gzip', 'content-type': 'application/x-ndjson' }, body: new Uint8Array(empties) });
      expect(res.status).toBe(413);
      expect(((await res.json()) as { message: string }).message).toMatch(/over the limit of 4096 bytes/);
      expect(uncaught).toEqual([]);
    } finally {
      process.off('uncaughtException', onUncaught);
      server.close();
    }
  });
});
