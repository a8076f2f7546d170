import type { AddressInfo } from 'node:net';
import { Writable } from 'node:stream';
import express from 'express';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { errorHandler } from '../src/errorHandler.js';
import { requestId } from '../src/requestId.js';

describe('a real 500', () => {
  it('is logged with a request id that the answer carries, without the error text', async () => {
    const lines: string[] = [];
    const log = pino(new Writable({ write: (c, _e, cb) => (lines.push(String(c)), cb()) }));
    const app = express();
    app.use(requestId());
    app.get('/bug', () => {
      throw new Error('db password is hunter2');
    });
    app.use(errorHandler(log));
    const server = app.listen(0);
    await new Promise((r) => server.once('listening', r));
    try {
      const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/bug`;
      const res = await fetch(url);
      const text = await res.text();
      expect(res.status).toBe(500);
      const id = res.headers.get('x-request-id');
      expect(id).toMatch(/^[0-9a-f-]{36}$/);
      expect(JSON.parse(text).error).toMatchObject({ code: 'internal', requestId: id });
      expect(text).not.toContain('hunter2');
      const logged = lines.map((l) => JSON.parse(l)).find((l) => l.requestId === id);
      expect(logged).toMatchObject({ level: 50, requestId: id, err: { message: 'db password is hunter2' } });
      // The client's own id, when sane, ties its logs to ours.
      const mine = await fetch(url, { headers: { 'x-request-id': 'trace-42' } });
      expect(mine.headers.get('x-request-id')).toBe('trace-42');
      expect((await mine.json()).error.requestId).toBe('trace-42');
    } finally {
      await new Promise((r) => server.close(r));
    }
  });
});
