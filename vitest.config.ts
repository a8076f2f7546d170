import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

export default defineConfig({
  // Tests run the TypeScript sources of the workspace package (what the
  // `source` export condition gives node/tsx), not its build.
  resolve: {
    alias: {
      '@kameleondb/core': fileURLToPath(new URL('./packages/core/src/index.ts', import.meta.url)),
      '@kameleondb/schemas': fileURLToPath(new URL('./packages/schemas/src/index.ts', import.meta.url)),
      '@kameleondb/client': fileURLToPath(new URL('./packages/client/src/index.ts', import.meta.url)),
    },
  },
  test: {
    include: ['packages/*/test/**/*.test.ts', 'apps/*/test/**/*.test.ts', 'test-support/test/**/*.test.ts'],
    globalSetup: ['./test-support/globalSetup.ts'],
    // Fails a test (or a file) that leaves a pool, a queue, a server or a process open.
    setupFiles: ['./test-support/leakCheck.ts'],
    testTimeout: 180_000,
    hookTimeout: 120_000,
    pool: 'forks',
    maxWorkers: 2,
  },
});
