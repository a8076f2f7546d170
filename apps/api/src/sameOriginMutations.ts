import type { RequestHandler } from 'express';
import { HttpError } from './HttpError.js';
import { hasBody, JSON_TYPE, mediaType } from './requestBody.js';

const hostOf = (url: string): string | null => {
  try {
    return new URL(url).host.toLowerCase();
  } catch {
    return null;
  }
};

/**
 * Guards the dashboard's API mutations (anything but GET/HEAD under
 * `/api/`) against cross-site requests: browsers cache Basic credentials
 * and send them with a form post or a CORS-simple fetch from any site.
 * - The request must come from the dashboard's own origin: Sec-Fetch-Site
 *   `same-origin`, else an Origin (or, without one, a Referer) whose host is
 *   the Host header. A client that sends none of these is not a browser
 *   (curl, scripts) and cannot be driven cross-site.
 * - A body must be JSON: a cross-site page can only send JSON after a CORS
 *   preflight, which this server never grants. The board's own buttons send
 *   bodiless PUTs, which browsers never send cross-site without a preflight.
 */
export function sameOriginMutations(): RequestHandler {
  return (req, _res, next) => {
    if (req.method === 'GET' || req.method === 'HEAD' || !req.path.startsWith('/api/')) {
      next();
      return;
    }
    const host = (req.get('host') ?? '').toLowerCase();
    const site = req.get('sec-fetch-site');
    const origin = req.get('origin');
    const referer = req.get('referer');
    let same: boolean;
    if (site !== undefined) same = site === 'same-origin';
    else if (origin !== undefined) same = hostOf(origin) === host;
    else if (referer !== undefined) same = hostOf(referer) === host;
    else same = true;
    if (!same) {
      next(new HttpError(403, 'forbidden', 'cross-site request refused: dashboard changes must come from the dashboard page itself (same origin)'));
      return;
    }
    if (hasBody(req)) mediaType(req, [JSON_TYPE]);
    next();
  };
}
