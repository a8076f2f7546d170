import { readdir, readFile } from 'node:fs/promises';
import pg from 'pg';
import { SchemaError } from '../errors.js';

const SQL_DIR = new URL('../../sql/', import.meta.url);
/** Arbitrary constant: the advisory lock every migrating process takes. */
const MIGRATION_LOCK_KEY = 727_311_001;

export interface MigrateOptions {
  /** Postgres connection string. */
  connectionString: string;
  /** Dimension of `kdb_search.embedding`; fixed by the first migration, checked afterwards. */
  dimensions: number;
}

export interface Migration {
  version: number;
  name: string;
  sql: string;
}

export async function loadMigrations(): Promise<Migration[]> {
  const files = (await readdir(SQL_DIR)).filter((f) => /^\d{6}_.+\.sql$/.test(f)).sort();
  return Promise.all(
    files.map(async (file) => ({
      version: Number(file.slice(0, 6)),
      name: file,
      sql: await readFile(new URL(file, SQL_DIR), 'utf8'),
    })),
  );
}

async function ensureVectorExtension(client: pg.ClientBase): Promise<void> {
  const { rowCount } = await client.query(`SELECT 1 FROM pg_extension WHERE extname = 'vector'`);
  if (rowCount) return;
  try {
    await client.query('CREATE EXTENSION IF NOT EXISTS vector');
  } catch (err) {
    const code = (err as { code?: string }).code;
    // 0A000/58P01: control file missing (not installed); 42501: no privilege.
    const why =
      code === '42501'
        ? 'the database user may not create it: run `CREATE EXTENSION vector` once as a superuser'
        : 'pgvector is not installed on the PostgreSQL server: use the pgvector/pgvector image, your platform\'s pgvector package, or scripts/ensure-services.sh on Debian';
    throw new SchemaError(`cannot create extension "vector": ${why} (${(err as Error).message})`, { cause: err });
  }
}

/** Versions present in sql/ but not yet applied; [] when the schema is current. */
export async function pendingMigrations(client: pg.ClientBase): Promise<number[]> {
  const all = await loadMigrations();
  const { rows } = await client.query<{ exists: boolean }>(`SELECT to_regclass('kdb_migrations') IS NOT NULL AS exists`);
  if (!rows[0]?.exists) return all.map((m) => m.version);
  const applied = await client.query<{ version: number }>('SELECT version FROM kdb_migrations');
  const done = new Set(applied.rows.map((r) => r.version));
  return all.filter((m) => !done.has(m.version)).map((m) => m.version);
}

/** The dimension of `kdb_search.embedding`, or null before the first migration. */
export async function embeddingColumnDimensions(client: pg.ClientBase): Promise<number | null> {
  const { rows } = await client.query<{ typmod: number }>(
    `SELECT atttypmod AS typmod FROM pg_attribute
      WHERE attrelid = to_regclass('kdb_search') AND attname = 'embedding' AND NOT attisdropped`,
  );
  return rows[0] ? rows[0].typmod : null;
}

/**
 * Applies pending migrations, each in its own transaction, under a session
 * advisory lock so that processes starting together take turns: the second
 * finds the work done. Then checks that the vector column matches the
 * configured dimension.
 */
export async function migrate(opts: MigrateOptions): Promise<{ applied: number[] }> {
  if (!Number.isInteger(opts.dimensions) || opts.dimensions < 1 || opts.dimensions > 2000) {
    throw new SchemaError(
      `embedding dimensions must be an integer from 1 to 2000 (pgvector's HNSW limit), got ${String(opts.dimensions)}`,
    );
  }
  const client = new pg.Client({ connectionString: opts.connectionString, application_name: 'kameleondb-migrate' });
  // A lost connection rejects the query in flight; unheard, the 'error' event would end the process.
  client.on('error', () => undefined);
  await client.connect();
  const applied: number[] = [];
  try {
    await client.query('SELECT pg_advisory_lock($1)', [MIGRATION_LOCK_KEY]);
    try {
      await ensureVectorExtension(client);
      await client.query(`CREATE TABLE IF NOT EXISTS kdb_migrations (
        version int PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())`);
      const pending = new Set(await pendingMigrations(client));
      for (const m of await loadMigrations()) {
        if (!pending.has(m.version)) continue;
        const sql = m.sql.replaceAll('{{dimensions}}', String(opts.dimensions));
        await client.query('BEGIN');
        try {
          await client.query(sql);
          await client.query('INSERT INTO kdb_migrations (version, name) VALUES ($1, $2)', [m.version, m.name]);
          await client.query('COMMIT');
        } catch (err) {
          await client.query('ROLLBACK');
          throw new SchemaError(`migration ${m.name} failed: ${(err as Error).message}`, { cause: err });
        }
        applied.push(m.version);
      }
      const dims = await embeddingColumnDimensions(client);
      if (dims !== opts.dimensions) {
        throw new SchemaError(
          `kdb_search.embedding is vector(${String(dims)}) but the embedding provider is configured for ${opts.dimensions} dimensions. ` +
            `Set KDB_EMBEDDING_DIMENSIONS=${String(dims)} (or a model of that size), or migrate the column: ` +
            `stop the workers, drop the kdb_vseg_* indexes and DELETE FROM kdb_vector_segments, then ` +
            `ALTER TABLE kdb_search ALTER embedding TYPE vector(${opts.dimensions}) USING NULL; UPDATE kdb_search SET vector_seq = NULL; then reindex.`,
          { details: { column: dims, configured: opts.dimensions } },
        );
      }
    } finally {
      await client.query('SELECT pg_advisory_unlock($1)', [MIGRATION_LOCK_KEY]);
    }
  } finally {
    await client.end();
  }
  return { applied };
}
