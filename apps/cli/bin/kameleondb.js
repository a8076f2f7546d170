#!/usr/bin/env node
// Runs the built CLI (pnpm --filter @kameleondb/cli build); from a checkout
// without a build, `pnpm kameleondb …` runs it from source.
await import('../dist/main.js');
