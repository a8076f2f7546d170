import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { createPool, HashProvider, SearchEngine } from '@kameleondb/core';
import { createSearchDatabase, type SearchDatabase } from '../../../test-support/searchDatabase.js';

class FailingProvider extends HashProvider {
  override async embed(): Promise<Float32Array[]> {
    throw new Error('provider down');
  }
}

/** The names of the retrievers' statements, in the order they reached the pool. */
function recordStatements(pool: ReturnType<typeof createPool>): string[] {
  const sent: string[] = [];
  const query = pool.query.bind(pool) as (...args: unknown[]) => unknown;
  pool.query = ((...args: unknown[]) => {
    const name = (args[0] as { name?: string }).name;
    if (name && /^kdb_(query_vector|vector_|keyword|bm25)/.test(name)) sent.push(name.startsWith('kdb_vector_') ? 'kdb_vector' : name);
    return query(...args);
  }) as typeof pool.query;
  return sent;
}

describe('hybrid search sends the vector statement before the keyword statement', () => {
  let pool: ReturnType<typeof createPool>;

  let search: SearchDatabase;
  beforeAll(async () => {
    search = await createSearchDatabase();
    ({ pool } = search);
  });
  afterAll(() => search.close());

  it('keyword waits for the vector statement, also when the query vector comes from the provider', async () => {
    const sent = recordStatements(pool);
    const engine = new SearchEngine({ pool, provider: new HashProvider() });
    await engine.search({ q: 'statement order', entities: ['docs'], mode: 'hybrid', limit: 10 });
    expect(sent).toEqual(['kdb_query_vector', 'kdb_vector', 'kdb_keyword_stats_heads']);
    sent.length = 0;
    await engine.search({ q: 'statement order', entities: ['docs'], mode: 'hybrid', limit: 10 }); // the vector now in process
    expect(sent).toEqual(['kdb_vector', 'kdb_keyword_stats_heads']);
    await engine.close();
  });

  it('the keyword statement still goes out when the vector side fails before sending', async () => {
    const sent = recordStatements(pool);
    const engine = new SearchEngine({ pool, provider: new FailingProvider() });
    await expect(engine.search({ q: 'no vector', entities: ['docs'], mode: 'hybrid', limit: 10 })).rejects.toThrow('provider down');
    await vi.waitFor(() => expect(sent).toEqual(['kdb_query_vector', 'kdb_keyword_stats_heads']));
    await engine.close();
  });
});
