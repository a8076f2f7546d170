import pg from 'pg';
import type { Logger } from 'pino';
import { BUILD_MEMORY_PATTERN, DEFAULTS } from '../config/defaults.js';
import { planSegmentWork, type SegmentPolicy, type SegmentWork } from './planSegmentWork.js';
import { hnswRowsInMemory } from './hnswRowsInMemory.js';
import { listSpaces, vectorTable, type EmbeddingSpace } from '../store/embeddingSpaceStore.js';
import { hotSegment, listVectorSegments, SEGMENT_INDEX_NAME, segmentIndexName, sealedUpTo, seqLiteral, seqOfRow } from './vectorSegmentStore.js';

/** Arbitrary constant: the session advisory lock of the one active segment manager. */
const SEGMENT_LOCK_KEY = 727_311_002;

/**
 * Build settings of segment indexes. Clustered data needs the links of a
 * larger m than pgvector's 16 (a sparse graph cannot reach isolated
 * clusters), and a wider ef_construction gives the graph the quality that
 * lets search use a small ef_search. Chosen with `pnpm bench:hnsw`
 * (docs/decisions/hnsw-settings.md).
 */
export const HNSW_BUILD = { m: 24, efConstruction: 192 } as const;

export interface SegmentManagerOptions extends Partial<SegmentPolicy> {
  connectionString: string;
  logger: Logger;
  /** How often the manager looks for work, in ms. Default 1000. */
  tickMs?: number;
  /** Writes quiet for this long count as idle (seal whatever is hot, merge). Default 3000. */
  idleMs?: number;
  /** `maintenance_work_mem` of index builds; a graph that does not fit builds far slower. Default '1GB'. */
  buildMemory?: string;
  /** HNSW links per node (pgvector's m). Default HNSW_BUILD.m (`pnpm bench:hnsw`). */
  hnswM?: number;
  /** HNSW candidate list while building (pgvector's ef_construction). Default HNSW_BUILD.efConstruction. */
  hnswEfConstruction?: number;
  /**
   * Segments of fewer rows are built by one backend, larger ones with
   * PostgreSQL's parallel maintenance workers, which only pay off on large
   * builds (docs/decisions/segment-build-parallelism.md). Default 50,000. A
   * build alone also leaves a core to ingest and search.
   */
  parallelBuildRows?: number;
  onBuild?: (work: SegmentWork, ms: number) => void;
  /** True while an ingest backlog waits (embed jobs queued): seals wait for maxHotRows, merges wait. */
  busy?: () => Promise<boolean>;
}

export type SegmentStep = { kind: 'standby' } | { kind: 'nothing'; hotRows: number } | (SegmentWork & { ms: number; indexName: string; spaceId: number });

export const DEFAULT_SEGMENT_POLICY: SegmentPolicy = { sealRows: 10_000, maxHotRows: 100_000, mergeFactor: 4, maxSegments: 12 };

/**
 * Builds the HNSW indexes of vector segments (sql/000004_vector_segments.sql)
 * in bulk: seals the hot segment and merges sealed neighbours, per embedding
 * space (the active one first, then one being built; retired spaces keep
 * their segments as they are). Every worker
 * runs one; the one holding a session advisory lock works, the others wait
 * to take over when its connection goes.
 *
 * If the process dies mid-build: a CREATE INDEX CONCURRENTLY that did not
 * finish leaves an INVALID index the catalog does not list; the catalog row
 * of a new segment and the removal of the merged ones commit in one
 * transaction, after the new index is valid; old indexes are dropped after
 * that commit. So search (which only trusts the catalog, and scans anything
 * above the last sealed seq exactly) never misses a vector, and the next
 * manager to take the lock drops every kdb_vseg_* index the catalog does not
 * list before it builds.
 */
export class SegmentManager {
  private client: pg.Client | null = null;
  private locked = false;
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<unknown> | null = null;
  private closed = false;
  /** Per space: the newest hot seq seen and since when (writes quiet for idleMs: idle). */
  private readonly lastHot = new Map<number, { hi: string | null; since: number }>();
  readonly policy: SegmentPolicy;
  private readonly withClause: string;
  private readonly m: number;
  private readonly buildMemory: string;

  constructor(private readonly opts: SegmentManagerOptions) {
    this.policy = {
      sealRows: opts.sealRows ?? DEFAULT_SEGMENT_POLICY.sealRows,
      maxHotRows: opts.maxHotRows ?? DEFAULT_SEGMENT_POLICY.maxHotRows,
      mergeFactor: opts.mergeFactor ?? DEFAULT_SEGMENT_POLICY.mergeFactor,
      maxSegments: opts.maxSegments ?? DEFAULT_SEGMENT_POLICY.maxSegments,
      ...(opts.maxMergeRows === undefined ? {} : { maxMergeRows: opts.maxMergeRows }),
    };
    const m = (this.m = opts.hnswM ?? HNSW_BUILD.m);
    const efc = opts.hnswEfConstruction ?? HNSW_BUILD.efConstruction;
    if (!Number.isInteger(m) || m < 2 || m > 100) throw new Error(`HNSW m must be an integer from 2 to 100, got ${String(m)}`);
    if (!Number.isInteger(efc) || efc < 4 || efc > 1000 || efc < 2 * m) {
      throw new Error(`HNSW ef_construction must be an integer from 4 to 1000 and at least 2 × m (${2 * m}), got ${String(efc)}`);
    }
    this.withClause = `WITH (m = ${m}, ef_construction = ${efc})`;
    this.buildMemory = opts.buildMemory ?? DEFAULTS.segmentBuildMemory;
    if (!BUILD_MEMORY_PATTERN.test(this.buildMemory)) throw new Error(`segment build memory must look like 512MB or 1GB, got "${opts.buildMemory}"`);
  }

  /** Looks for work every tickMs until closed. */
  start(): this {
    const loop = () => {
      if (this.closed) return;
      this.running = this.step()
        .catch((err: unknown) => {
          this.opts.logger.error({ err }, 'vector segment manager step failed; retrying');
          return this.disconnect();
        })
        .finally(() => {
          this.running = null;
          if (!this.closed) this.timer = setTimeout(loop, this.opts.tickMs ?? 1000);
        });
    };
    this.timer = setTimeout(loop, 0);
    return this;
  }

  private async connect(): Promise<pg.Client> {
    if (this.client) return this.client;
    const client = new pg.Client({ connectionString: this.opts.connectionString, application_name: 'kameleondb-segments' });
    client.on('error', () => undefined); // surfaced by the next query
    try {
      await client.connect();
      await client.query(`SET maintenance_work_mem = '${this.buildMemory}'`);
    } catch (err) {
      // Not kept, so not ended by disconnect(): end it here (the server may be restarting).
      await client.end().catch(() => undefined);
      throw err;
    }
    this.client = client;
    return client;
  }

  private async disconnect(): Promise<void> {
    const c = this.client;
    this.client = null;
    this.locked = false;
    await c?.end().catch(() => undefined);
  }

  /** One unit of work: take the lock if free, then at most one build. */
  async step(): Promise<SegmentStep> {
    const client = await this.connect();
    if (!this.locked) {
      const { rows } = await client.query<{ ok: boolean }>('SELECT pg_try_advisory_lock($1) AS ok', [SEGMENT_LOCK_KEY]);
      if (!rows[0]!.ok) return { kind: 'standby' };
      this.locked = true;
      await this.dropUnlisted(client);
    }
    // The backlog first, then the hot rows: a job completes only after its rows are committed, so
    // rows of a last batch that finishes in between are in the hot range read next. The other
    // order could read the hot range, then see no job left, and seal without that batch (it
    // would become a segment of its own, and every vector search would walk one graph more).
    const busy = (await this.opts.busy?.().catch(() => false)) ?? false;
    const spaces = (await listSpaces(client)).filter((s) => s.state !== 'retired').sort((a, b) => (a.state === 'active' ? -1 : b.state === 'active' ? 1 : a.id - b.id));
    let hotRows = 0;
    for (const space of spaces) {
      const segments = await listVectorSegments(client, space.id);
      const hot = await hotSegment(client, space.id, sealedUpTo(segments));
      const now = Date.now();
      const last = this.lastHot.get(space.id);
      if (!last || hot.hi !== last.hi) this.lastHot.set(space.id, { hi: hot.hi, since: now });
      const idle = now - this.lastHot.get(space.id)!.since >= (this.opts.idleMs ?? DEFAULTS.segmentIdleMs);
      const policy = { ...this.policy, maxMergeRows: Math.min(this.policy.maxMergeRows ?? Infinity, hnswRowsInMemory(this.buildMemory, space.dimensions, this.m)) };
      let work = planSegmentWork(segments, hot, policy, { idle, busy });
      // A hot range that grew past the cap while an earlier build ran is sealed in pieces that fit the
      // build memory, oldest first (the next step seals the rest).
      if (work?.kind === 'seal' && work.rows > policy.maxMergeRows) {
        const hi = await seqOfRow(client, space.id, sealedUpTo(segments), policy.maxMergeRows);
        if (hi !== null) work = { ...work, hi, rows: policy.maxMergeRows };
      }
      if (work) return this.build(client, space, work);
      if (space.state === 'active') hotRows = hot.rows;
    }
    return { kind: 'nothing', hotRows };
  }

  private async build(client: pg.Client, space: EmbeddingSpace, work: SegmentWork): Promise<SegmentStep> {
    const indexName = segmentIndexName(space.id, work.lo, work.hi);
    const table = vectorTable(space.id);
    const t = performance.now();
    // A build of the same range that died half-way left an invalid index of this name.
    await client.query(`DROP INDEX CONCURRENTLY IF EXISTS ${indexName}`);
    await client.query(
      work.rows < (this.opts.parallelBuildRows ?? 50_000) ? 'SET max_parallel_maintenance_workers = 0' : 'RESET max_parallel_maintenance_workers',
    );
    await client.query(
      `CREATE INDEX CONCURRENTLY ${indexName} ON ${table} USING hnsw (embedding vector_cosine_ops) ${this.withClause}
        WHERE vector_seq BETWEEN ${seqLiteral(work.lo)} AND ${seqLiteral(work.hi)}`,
    );
    // Fresh statistics before search sees the segment: planned from statistics that
    // predate its rows, a segment's range looks empty and the planner picks an
    // exact scan over it instead of its HNSW index, many times slower after a bulk
    // load that autovacuum had not analyzed yet.
    await client.query(`ANALYZE ${table}`);
    const ms = Math.round(performance.now() - t);
    const merged = work.kind === 'merge' ? work.segments.map((s) => s.indexName) : [];
    // The new segment replaces the merged ones in one commit.
    await client.query('BEGIN');
    try {
      // A space dropped during the build took its table (and this index) with it: nothing to record.
      const { rows: alive } = await client.query('SELECT 1 FROM kdb_embedding_spaces WHERE id = $1 FOR SHARE', [space.id]);
      if (alive.length) {
        // The build waited out every transaction writing the table, so the range is complete: its
        // rows per entity can only fall from here (search skips or scans exactly by them).
        const { rows } = await client.query<{ entity: string; n: string }>(
          `SELECT entity, count(*) AS n FROM ${table} WHERE vector_seq BETWEEN $1::bigint AND $2::bigint GROUP BY entity`,
          [work.lo, work.hi],
        );
        const entityRows = Object.fromEntries(rows.map((r) => [r.entity, Number(r.n)]));
        await client.query('DELETE FROM kdb_vector_segments WHERE index_name = ANY($1::text[])', [merged]);
        await client.query(
          `INSERT INTO kdb_vector_segments (index_name, space_id, lo, hi, rows, kind, build_ms, entity_rows) VALUES ($1, $2, $3::bigint, $4::bigint, $5, $6, $7, $8::jsonb)`,
          [indexName, space.id, work.lo, work.hi, rows.reduce((n, r) => n + Number(r.n), 0), work.kind, ms, JSON.stringify(entityRows)],
        );
      }
      await client.query('COMMIT');
    } catch (err) {
      await client.query('ROLLBACK').catch(() => undefined);
      throw err;
    }
    for (const name of merged) await client.query(`DROP INDEX CONCURRENTLY IF EXISTS ${name}`);
    this.opts.logger.info(
      { space: space.modelKey, kind: work.kind, lo: work.lo, hi: work.hi, rows: work.rows, merged: merged.length, ms },
      `vector segment ${work.kind === 'seal' ? 'sealed' : 'merged'}`,
    );
    this.opts.onBuild?.(work, ms);
    return { ...work, ms, indexName, spaceId: space.id };
  }

  /** Drops kdb_vseg_* indexes the catalog does not list: leftovers of builds or merges cut short. */
  private async dropUnlisted(client: pg.Client): Promise<void> {
    const { rows } = await client.query<{ name: string }>(
      `SELECT c.relname AS name FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid JOIN pg_class t ON t.oid = i.indrelid
        WHERE t.relname LIKE 'kdb\\_vectors\\_%' AND c.relname LIKE 'kdb\\_vseg\\_%'
          AND c.relnamespace = current_schema()::regnamespace
          AND c.relname NOT IN (SELECT index_name FROM kdb_vector_segments)`,
    );
    for (const r of rows) {
      if (!SEGMENT_INDEX_NAME.test(r.name)) continue;
      this.opts.logger.warn({ index: r.name }, 'dropping a vector segment index left by an interrupted build');
      await client.query(`DROP INDEX CONCURRENTLY IF EXISTS ${r.name}`);
    }
  }

  /** Stops looking for work; a build in progress is cancelled (its leftovers are dropped by the next manager). */
  async close(): Promise<void> {
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    const c = this.client;
    if (this.running && c) {
      const pid = (c as unknown as { processID?: number }).processID;
      if (pid) {
        const killer = new pg.Client({ connectionString: this.opts.connectionString });
        killer.on('error', () => undefined);
        await killer.connect().then(
          () => killer.query('SELECT pg_cancel_backend($1)', [pid]).finally(() => killer.end()),
          () => undefined,
        );
      }
      await this.running.catch(() => undefined);
    }
    await this.disconnect();
  }
}

