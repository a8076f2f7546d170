import pg from 'pg';
import pgvector from 'pgvector';
import { BM25_B, BM25_K1, bm25Idf, DEFAULT_EF_SEARCH, HashProvider, keywordTopKAllLayouts, listVectorSegments, readStatsAndHeads, SearchEngine, tokenize, vectorSql } from '@kameleondb/core';
import { fullBm25Sum } from '../zipfCorpus.js';

/**
 * The retrievers' statements straight to Postgres, as bench:search runs them
 * (no HTTP, JSON, fusion or fetch of the rows): the keyword top-k statements
 * (statistics with the first round, then keywordTopKAllLayouts: the rows'
 * rounds beside the blocks'), the vector
 * union over the segments, both in parallel for hybrid (window 40), and the
 * full BM25 sum over every posting of the query terms as the reference.
 */
export async function rawStatements(url: string, entity: string, spaceId = 1) {
  const pool = new pg.Pool({ connectionString: url, max: 4 });
  pool.on('connect', (c) => void SearchEngine.sessionSql(DEFAULT_EF_SEARCH).reduce((p, sql) => p.then(() => c.query(sql)), Promise.resolve({})));
  const provider = new HashProvider();
  const segments = await listVectorSegments(pool, spaceId);
  const sql = (limit: number) => vectorSql(segments, false, limit, spaceId);
  const vector = (q: string, limit = 10) => pool.query<{ id: string; distance: number }>({ name: `raw_vector_${limit}`, text: sql(limit), values: [pgvector.toSql(Array.from(provider.embedOne(q))), [entity]] });
  const stats = async (q: string, k: number) => {
    const first = await readStatsAndHeads(pool, { entities: [entity], terms: [...new Set(tokenize(q))], k });
    const present = [...first.df].filter(([, d]) => d > 0).map(([term, d]) => ({ term, df: d, idf: bm25Idf(first.documents, d) }));
    return { first, present, avgdl: first.totalLength / first.documents };
  };
  const keyword = async (q: string, k = 10, where?: Record<string, string>) => {
    const { first, present, avgdl } = await stats(q, k);
    if (!present.length) return null;
    return keywordTopKAllLayouts(pool, { entities: [entity], terms: present, k, k1: BM25_K1, b: BM25_B, avgdl, firstRound: first.heads, firstRoundQuery: first.query, firstGroups: { groups: first.groups, query: first.query }, where });
  };
  // The reference gets its statistics read once per query, not timed.
  const statsOf = new Map<string, { terms: string[]; idfs: number[]; avgdl: number }>();
  const fullSum = async (q: string, limit = 10, where?: Record<string, string>) => {
    let s = statsOf.get(q);
    if (!s) {
      const { present, avgdl } = await stats(q, 10);
      statsOf.set(q, (s = { terms: present.map((p) => p.term), idfs: present.map((p) => p.idf), avgdl }));
    }
    return fullBm25Sum(pool, { entity, terms: s.terms, idfs: s.idfs, k1: BM25_K1, b: BM25_B, avgdl: s.avgdl, limit, where });
  };
  /** Distances of the exact nearest `k` (a sequential scan), for recall. */
  const exactDistances = async (q: string, k = 10) => {
    const c = await pool.connect();
    try {
      await c.query('BEGIN');
      await c.query('SET LOCAL enable_indexscan = off');
      await c.query('SET LOCAL enable_bitmapscan = off');
      const r = await c.query<{ d: number }>(`SELECT embedding <=> $1::vector AS d FROM kdb_vectors_${spaceId} WHERE entity = $2 AND embedding IS NOT NULL ORDER BY 1 LIMIT ${k}`, [pgvector.toSql(Array.from(provider.embedOne(q))), entity]);
      await c.query('COMMIT');
      return r.rows.map((x) => Number(x.d));
    } finally {
      c.release();
    }
  };
  return {
    segments: segments.length,
    keyword: (q: string) => keyword(q),
    vector: (q: string) => vector(q),
    hybrid: (q: string) => Promise.all([vector(q, 40), keyword(q, 40)]),
    fullSum,
    stats: (q: string) => stats(q, 10),
    vectorDistances: async (q: string) => (await vector(q)).rows.map((r) => Number(r.distance)),
    /** The vector union's top 10 distances at `ef` (hnsw.ef_search for this statement's transaction only). */
    vectorDistancesAt: async (q: string, ef: number) => {
      const c = await pool.connect();
      try {
        await c.query(`BEGIN; SET LOCAL hnsw.ef_search = ${Math.trunc(ef)}`);
        const r = await c.query<{ distance: number }>({ name: 'raw_vector_10', text: sql(10), values: [pgvector.toSql(Array.from(provider.embedOne(q))), [entity]] });
        await c.query('COMMIT');
        return r.rows.map((x) => Number(x.distance));
      } finally {
        c.release();
      }
    },
    exactDistances,
    close: () => pool.end(),
  };
}
export type RawStatements = Awaited<ReturnType<typeof rawStatements>>;
