import { readdir, readFile } from 'node:fs/promises';
import pg from 'pg';
import { SchemaError } from '../errors.js';
import { seedKey, seedSpace, type EmbeddingSpace, type SpaceSeed } from './embeddingSpaceStore.js';

const SQL_DIR = new URL('../../sql/', import.meta.url);
/** Arbitrary constant: the advisory lock every migrating process takes. */
const MIGRATION_LOCK_KEY = 727_311_001;

export interface MigrateOptions {
  /** Postgres connection string. */
  connectionString: string;
  /**
   * The space of the configured provider (KDB_EMBEDDING_*). On a database
   * without any space it becomes the active one; otherwise it changes
   * nothing (see MigrateResult.configured).
   */
  space?: SpaceSeed;
}

export interface MigrateResult {
  applied: number[];
  /** The active space after migrating (null: none yet, no seed given). */
  active: EmbeddingSpace | null;
  /** The seed became the active space now. */
  seeded: boolean;
  /** The seed's model key, when it is not the active space's: the process serves the active space anyway. */
  configured: string | null;
}

/**
 * The vector column of the historical migrations (000001, 000004) needs a
 * dimension; 000010 moves vectors into a table per space and drops that
 * column, so on a new database the value is never used.
 */
const LEGACY_DIMENSIONS = 384;

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

/**
 * Applies pending migrations, each in its own transaction, under a session
 * advisory lock so that processes starting together take turns: the second
 * finds the work done. Then seeds the first embedding space from
 * `opts.space` on a database without one.
 */
export async function migrate(opts: MigrateOptions): Promise<MigrateResult> {
  const dims = opts.space?.dimensions;
  if (dims !== undefined && (!Number.isInteger(dims) || dims < 1 || dims > 2000)) {
    throw new SchemaError(`embedding dimensions must be an integer from 1 to 2000 (pgvector's HNSW limit), got ${String(dims)}`);
  }
  const client = new pg.Client({ connectionString: opts.connectionString, application_name: 'kameleondb-migrate' });
  // A lost connection rejects the query in flight; unheard, the 'error' event would end the process.
  client.on('error', () => undefined);
  await client.connect();
  const applied: number[] = [];
  let spaces: { active: EmbeddingSpace | null; seeded: boolean } = { active: null, seeded: false };
  try {
    await client.query('SELECT pg_advisory_lock($1)', [MIGRATION_LOCK_KEY]);
    try {
      await ensureVectorExtension(client);
      await client.query(`CREATE TABLE IF NOT EXISTS kdb_migrations (
        version int PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())`);
      const pending = new Set(await pendingMigrations(client));
      for (const m of await loadMigrations()) {
        if (!pending.has(m.version)) continue;
        const sql = m.sql.replaceAll('{{dimensions}}', String(LEGACY_DIMENSIONS));
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
      if (opts.space) {
        await client.query('BEGIN');
        try {
          spaces = await seedSpace(client, opts.space);
          await client.query('COMMIT');
        } catch (err) {
          await client.query('ROLLBACK');
          throw err;
        }
      }
    } finally {
      await client.query('SELECT pg_advisory_unlock($1)', [MIGRATION_LOCK_KEY]);
    }
  } finally {
    await client.end();
  }
  const key = opts.space ? seedKey(opts.space) : null;
  return { applied, ...spaces, configured: key !== null && spaces.active !== null && spaces.active.modelKey !== key ? key : null };
}
