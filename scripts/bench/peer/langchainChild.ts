/**
 * One LangChain.js turn, in its own process so its peak RSS is its own:
 * PGVectorStore (@langchain/community) with OpenAIEmbeddings pointed at the
 * bench's local OpenAI wire-format server, set up as LangChain's docs show
 * for production: the table and its HNSW index (m=16, ef_construction=64,
 * the defaults of createHnswIndex) made before loading, one addDocuments
 * call; optionally behind CacheBackedEmbeddings on Redis. Search runs in
 * this process, as a LangChain user's does: similaritySearchVectorWithScore
 * on a pool whose sessions SET hnsw.ef_search.
 *
 * Argument: one JSON object (LangChainTurnInput). Last stdout line:
 * `RESULT {json}` (LangChainTurnOutput). Progress goes to stderr.
 */
import { CacheBackedEmbeddings } from '@langchain/classic/embeddings/cache_backed';
import { RedisByteStore } from '@langchain/community/storage/ioredis';
import { PGVectorStore } from '@langchain/community/vectorstores/pgvector';
import { Document } from '@langchain/core/documents';
import type { EmbeddingsInterface } from '@langchain/core/embeddings';
import { OpenAIEmbeddings } from '@langchain/openai';
import { Redis } from 'ioredis';
import pg from 'pg';
import { contentOf, PEER_DIMENSIONS, peerQueries } from './corpus.js';
import type { LangChainTurnInput, LangChainTurnOutput } from './langchainTurn.js';
import { exactKthDistance, searchAtRecall } from './searchAtRecall.js';

const input = JSON.parse(process.argv[2] ?? '{}') as LangChainTurnInput;
const log = (s: string) => process.stderr.write(`  [langchain ${input.label}] ${s}\n`);
const TABLE = 'peer_documents';

const openai = new OpenAIEmbeddings({
  model: 'text-embedding-3-small',
  dimensions: PEER_DIMENSIONS,
  apiKey: 'sk-bench',
  configuration: { baseURL: input.baseURL },
  ...(input.batchSize ? { batchSize: input.batchSize } : {}),
});
const redis = input.cacheNamespace ? new Redis(input.redisUrl) : undefined;
const embeddings: EmbeddingsInterface = redis
  ? CacheBackedEmbeddings.fromBytesStore(openai, new RedisByteStore({ client: redis }), { namespace: `${input.cacheNamespace}:` })
  : openai;

const pool = new pg.Pool({ connectionString: input.dbUrl });
const store = input.loaded
  ? new PGVectorStore(embeddings, { pool, tableName: TABLE, distanceStrategy: 'cosine' })
  : await PGVectorStore.initialize(embeddings, { pool, tableName: TABLE, dimensions: PEER_DIMENSIONS, distanceStrategy: 'cosine' });
if (!input.loaded) await store.createHnswIndex({ dimensions: PEER_DIMENSIONS });

const docs = Array.from({ length: input.n }, (_, i) => new Document({ pageContent: contentOf(i), metadata: { title: `Record ${i}` } }));
const out: LangChainTurnOutput = { phases: {}, maxRssKB: 0 };

async function load(phase: 'load' | 'reingest'): Promise<void> {
  const start = Date.now();
  const t = performance.now();
  await store.addDocuments(docs);
  const seconds = (performance.now() - t) / 1000;
  out.phases[phase] = { seconds, start, end: Date.now() };
  log(`${phase} of ${input.n}: ${seconds.toFixed(2)} s`);
}

if (!input.loaded) await load('load');
const { rows } = await pool.query(`SELECT count(*)::int AS n FROM ${TABLE}`);
if (rows[0].n !== input.n) throw new Error(`LangChain table holds ${rows[0].n} rows after loading ${input.n}`);

if (input.search) {
  const queries = peerQueries(input.search.queries);
  // Query vectors embedded once, before timing: latency is the store's search alone.
  const vectors = await openai.embedDocuments(queries);
  let searchPool: pg.Pool | undefined;
  let searchStore: PGVectorStore | undefined;
  const exact = await pool.connect();
  out.search = await searchAtRecall(
    {
      async setEf(ef) {
        await searchPool?.end();
        searchPool = new pg.Pool({ connectionString: input.dbUrl, max: 1 });
        searchPool.on('connect', (c) => void c.query(`SET hnsw.ef_search = ${ef}`));
        searchStore = new PGVectorStore(embeddings, { pool: searchPool, tableName: TABLE, distanceStrategy: 'cosine' });
      },
      async search(_q, i) {
        const hits = await searchStore!.similaritySearchVectorWithScore(vectors[i]!, 10);
        return { distances: hits.map(([, d]) => d) };
      },
      exactKth: (_q, i) => exactKthDistance(exact, TABLE, `[${vectors[i]!.join(',')}]`),
    },
    queries,
    input.search.recallQueries,
    log,
  );
  exact.release();
  const plan = (await searchPool!.query(`EXPLAIN SELECT * FROM ${TABLE} ORDER BY embedding <=> $1 LIMIT 10`, [`[${vectors[0]!.join(',')}]`])).rows.map((r) => r['QUERY PLAN']).join(' ');
  out.search.plan = /Index Scan using (\S+)/.exec(plan)?.[1] ?? 'no index scan';
  await searchPool!.end();
}

if (input.reingest) await load('reingest');

await store.end();
if (redis) {
  // The cache's keys are this turn's: remove them.
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', `${input.cacheNamespace}:*`, 'COUNT', 1000);
    if (keys.length) await redis.del(...keys);
    cursor = next;
  } while (cursor !== '0');
  redis.disconnect();
}
out.maxRssKB = process.resourceUsage().maxRSS;
process.stdout.write(`RESULT ${JSON.stringify(out)}\n`);
process.exit(0);
