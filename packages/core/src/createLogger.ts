import { pino, type Logger } from 'pino';

/** JSON logs to stdout (one line an event), named after the process role. */
export function createLogger(name: string, level = 'info'): Logger {
  return pino({ name, level });
}
