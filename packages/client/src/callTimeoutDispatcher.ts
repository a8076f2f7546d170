import { Dispatcher, getGlobalDispatcher } from 'undici';

/**
 * The process's global undici dispatcher (what Node's fetch uses, or the proxy
 * agent a program set with setGlobalDispatcher), with undici's own
 * headersTimeout and bodyTimeout turned off on each request it sends.
 *
 * Why: those default to 300 s, and the API answers a streamed insert (or a
 * `wait=true` one) only after its commit, which for 100k+ records takes
 * longer; the call then failed with UND_ERR_HEADERS_TIMEOUT whatever the
 * client's `uploadTimeoutMs` said. Each call already carries its own bound
 * (an AbortSignal of its timeout, none for 0), so undici's are off rather
 * than set to the same length: two timers of one length would race and one
 * of them would name the wrong error.
 */
class CallTimeoutDispatcher extends Dispatcher {
  override dispatch(options: Dispatcher.DispatchOptions, handler: Dispatcher.DispatchHandlers): boolean {
    // Looked up per request: a dispatcher set after the client was made is honoured too.
    return getGlobalDispatcher().dispatch({ ...options, headersTimeout: 0, bodyTimeout: 0 }, handler);
  }
}

/** Passed as `dispatcher` on every call of a KameleonClient. */
export const callTimeoutDispatcher: Dispatcher = new CallTimeoutDispatcher();
