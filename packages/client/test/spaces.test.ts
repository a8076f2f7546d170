import { describe, expect } from 'vitest';
import { KameleonClient } from '@kameleondb/client';
import { test } from '../../../test-support/fixtures.js';
import { until } from '../../../test-support/http.js';
import { apiError } from './apiError.js';

const KEY = 'client-spaces-key-0123456789';
const HASH = 'hash:feature-hash-v1:384';
// The hash provider needs no key and has one model: a second space of it at another size.
const OTHER = { provider: 'hash', model: 'feature-hash-v1', dimensions: 256 } as const;
const OTHER_KEY = 'hash:feature-hash-v1:256';
const N = 500;

test.override('pipelineOptions', { workers: 1, env: { KDB_API_KEY: KEY } });

describe('KameleonClient spaces against a running API and worker', () => {
  test('lists, dry-runs, builds, activates back and drops a space; search and status name the active one', async ({ pipeline }) => {
    const kdb = new KameleonClient({ url: pipeline.api.url, apiKey: KEY });
    await kdb.entities.create({ name: 'Note', fields: { body: 'text' }, embedFields: ['body'] });
    expect(await kdb.records.insertAndWait('Note', Array.from({ length: N }, (_, i) => ({ body: `note ${i} about ${i % 2 ? 'cats' : 'dogs'}` })))).toMatchObject({ done: true });

    const before = await kdb.spaces.list();
    expect(before).toMatchObject({ active: HASH, spaces: [{ modelKey: HASH, state: 'active', dimensions: 384, embedded: N, total: N }] });
    expect((await kdb.search({ q: 'cats', entity: 'Note' })).space).toBe(HASH);
    expect(await kdb.embeddings.status()).toMatchObject({ space: HASH, spaceProblems: [] });

    const dry = await kdb.spaces.dryRun(OTHER);
    expect(dry).toMatchObject({ space: OTHER_KEY, exists: false, rows: N, distinctTexts: N, cachedTexts: 0 });
    expect((await kdb.spaces.list()).spaces).toHaveLength(1);

    const bad = await apiError(kdb.spaces.create({ ...OTHER, dimensions: 5000 }));
    expect(bad).toMatchObject({ status: 400, code: 'invalid_input', message: expect.stringMatching(/dimensions/) as unknown });

    const build = await kdb.spaces.create(OTHER);
    expect(build.space).toMatchObject({ modelKey: OTHER_KEY, state: 'building', activate: 'auto' });
    expect(build.run).toMatchObject({ space: OTHER_KEY });
    await until(async () => ((await kdb.spaces.list()).active === OTHER_KEY ? true : null), 60_000, 100);
    // API processes re-read the spaces at most every 300 ms.
    await until(async () => ((await kdb.search({ q: 'cats', entity: 'Note' })).space === OTHER_KEY ? true : null), 5_000, 50);
    const after = await kdb.spaces.list();
    expect(after.spaces.find((s) => s.modelKey === OTHER_KEY)).toMatchObject({ state: 'active', embedded: N, total: N, buildRun: { state: 'completed' } });
    expect(after.spaces.find((s) => s.modelKey === HASH)).toMatchObject({ state: 'retired' });

    // The key has colons: the client encodes it into the path.
    expect(await kdb.spaces.activate(HASH)).toMatchObject({ modelKey: HASH, state: 'active' });
    await until(async () => ((await kdb.search({ q: 'cats', entity: 'Note' })).space === HASH ? true : null), 5_000, 50);
    expect(await kdb.spaces.drop(OTHER_KEY)).toEqual({ dropped: OTHER_KEY });
    expect((await kdb.spaces.list()).spaces.map((s) => s.modelKey)).toEqual([HASH]);
    expect(await apiError(kdb.spaces.drop(OTHER_KEY))).toMatchObject({ status: 404 });
    expect(await apiError(kdb.spaces.drop(HASH))).toMatchObject({ status: 409 });
  });
});
