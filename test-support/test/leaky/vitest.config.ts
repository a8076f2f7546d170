import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

// The leak check on its own, for leakCheck.test.ts: the template database is the calling run's.
export default defineConfig({
  root: fileURLToPath(new URL('../../..', import.meta.url)),
  resolve: { alias: { '@kameleondb/core': fileURLToPath(new URL('../../../packages/core/src/index.ts', import.meta.url)) } },
  test: {
    include: ['test-support/test/leaky/*.fixture.ts'],
    setupFiles: ['./test-support/leakCheck.ts'],
    provide: { templateDb: process.env.KDB_TEST_TEMPLATE_DB ?? '' },
    pool: 'forks',
    maxWorkers: 1,
  },
});
