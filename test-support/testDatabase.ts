import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { inject } from 'vitest';
import { createPool, migrate, vectorTable } from '@kameleondb/core';
import { track } from './leaks.js';
import { adminUrl, dbUrl, withDatabase } from './urls.js';

export interface TestDatabase {
  name: string;
  url: string;
  pool: pg.Pool;
  close(): Promise<void>;
}

/** One statement on the server's maintenance database (CREATE and DROP DATABASE cannot run inside a pool's transaction). */
export async function adminQuery(sql: string, serverUrl = adminUrl()): Promise<void> {
  const c = new pg.Client({ connectionString: serverUrl });
  await c.connect();
  try {
    await c.query(sql);
  } finally {
    await c.end();
  }
}

/** Drops the database `name` if it exists (closing its sessions); `serverUrl` defaults to the tests' server. */
export async function dropDatabase(name: string, serverUrl = adminUrl()): Promise<void> {
  await adminQuery(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`, serverUrl);
}

/** An empty database `name` (no schema), replacing one of that name; returns its URL. */
export async function recreateDatabase(name: string, serverUrl = adminUrl()): Promise<string> {
  await dropDatabase(name, serverUrl);
  await adminQuery(`CREATE DATABASE ${name}`, serverUrl);
  return withDatabase(serverUrl, name);
}

/**
 * A fresh migrated database: on the tests' server a clone of the run's
 * template; on the server of `opts.serverUrl` (any database of it, such as a
 * throwaway cluster's), where the template is not, a new database migrated
 * here. A process that dies between the CREATE and the end of the migration
 * leaves a database of a random name behind: on the tests' server until the
 * server is reset, on a throwaway cluster until it is dropped.
 */
export async function createTestDatabase(opts: { serverUrl?: string } = {}): Promise<TestDatabase> {
  const name = `kdb_t_${randomBytes(5).toString('hex')}`;
  const server = opts.serverUrl ?? adminUrl();
  const url = withDatabase(server, name);
  if (opts.serverUrl === undefined) {
    await adminQuery(`CREATE DATABASE ${name} TEMPLATE ${inject('templateDb')}`);
  } else {
    await adminQuery(`CREATE DATABASE ${name}`, server);
    try {
      await migrate({ connectionString: url });
    } catch (err) {
      await dropDatabase(name, server).catch(() => undefined);
      throw err;
    }
  }
  const pool = createPool({ connectionString: url, max: 8 });
  let closed = false;
  track(`test database ${name} (its pool and the database)`, () => !closed);
  return {
    name,
    url,
    pool,
    async close() {
      await pool.end();
      await dropDatabase(name, server);
      closed = true;
    },
  };
}

/** An empty database (no schema), for migration tests. */
export async function createEmptyDatabase(): Promise<{ url: string; drop(): Promise<void> }> {
  const name = `kdb_e_${randomBytes(5).toString('hex')}`;
  await adminQuery(`CREATE DATABASE ${name}`);
  return { url: dbUrl(name), drop: () => dropDatabase(name) };
}

/**
 * Reads rows' vectors as numbers, from the active embedding space (or space
 * `spaceId`). pgvector prints the shortest decimal that round-trips a
 * float4, so Math.fround gives back the exact stored float.
 */
export async function readVectors(
  pool: pg.Pool,
  ids: readonly string[],
  spaceId?: number,
): Promise<Map<string, { status: string; vector: number[] | null; content: string; error: string | null }>> {
  const id = spaceId ?? (await pool.query<{ id: number }>(`SELECT id FROM kdb_embedding_spaces WHERE state = 'active'`)).rows[0]?.id;
  const table = id === undefined ? null : vectorTable(id);
  const { rows } = await pool.query<{ record_id: string; status: string; embedding: number[] | null; content: string; error: string | null }>(
    table
      ? `SELECT s.record_id, s.status, v.embedding, s.content, s.error FROM kdb_search s LEFT JOIN ${table} v ON v.record_id = s.record_id AND v.chunk = 0
          WHERE s.record_id = ANY($1::uuid[])`
      : 'SELECT record_id, status, NULL::vector AS embedding, content, error FROM kdb_search WHERE record_id = ANY($1::uuid[])',
    [ids],
  );
  return new Map(rows.map((r) => [r.record_id, { status: r.status, vector: r.embedding ? r.embedding.map(Math.fround) : null, content: r.content, error: r.error }]));
}
