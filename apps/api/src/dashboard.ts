import { createBullBoard } from '@bull-board/api';
import { BullMQAdapter } from '@bull-board/api/bullMQAdapter';
import { ExpressAdapter } from '@bull-board/express';
import type { Queue } from 'bullmq';
import type { RequestHandler, Router } from 'express';
import { limitedMatcher } from './auth.js';
import type { BadKeyLimiter } from './BadKeyLimiter.js';

/**
 * Access to the dashboard: HTTP Basic with the API key as password (any
 * user name), which browsers prompt for, or the API's Bearer token. Wrong
 * keys count in the same limiter as /v1's.
 */
export function requireDashboardAuth(apiKey: string, limiter: BadKeyLimiter): RequestHandler {
  const check = limitedMatcher(apiKey, limiter);
  return (req, res, next) => {
    const header = req.get('authorization') ?? '';
    let given = '';
    const basic = /^Basic\s+(.+)$/i.exec(header);
    const bearer = /^Bearer\s+(.+)$/i.exec(header);
    if (basic) {
      const decoded = Buffer.from(basic[1]!, 'base64').toString('utf8');
      given = decoded.slice(decoded.indexOf(':') + 1);
    } else if (bearer) given = bearer[1]!.trim();
    if (check(req, given)) {
      next();
      return;
    }
    res.set('WWW-Authenticate', 'Basic realm="kameleondb dashboard", charset="UTF-8"').status(401).send('authentication required: user any, password KDB_API_KEY');
  };
}

/** Bull Board over every queue of the system, at `basePath`. */
export function createDashboard(queues: readonly Queue[], opts: { basePath: string; readOnly: boolean }): Router {
  const serverAdapter = new ExpressAdapter();
  serverAdapter.setBasePath(opts.basePath);
  createBullBoard({
    queues: queues.map((q) => new BullMQAdapter(q, { readOnlyMode: opts.readOnly })),
    serverAdapter,
    options: { uiConfig: { boardTitle: 'KameleonDB' } },
  });
  return serverAdapter.getRouter() as Router;
}
