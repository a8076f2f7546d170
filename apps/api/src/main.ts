import { readEnv } from './env.js';
import { startApi } from './startApi.js';

try {
  const api = await startApi(readEnv());
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    process.stderr.write(`kameleondb-api: ${signal}, finishing in-flight requests\n`);
    api.close().then(
      () => process.exit(0),
      (err: unknown) => {
        process.stderr.write(`kameleondb-api: shutdown failed: ${String(err)}\n`);
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
} catch (err) {
  process.stderr.write(`kameleondb-api: cannot start: ${(err as Error).message}\n`);
  process.exit(1);
}
