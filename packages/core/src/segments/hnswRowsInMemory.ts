import { BUILD_MEMORY_PATTERN } from '../config/defaults.js';

/** Bytes a memory setting as PostgreSQL reads it (kB, MB, GB: powers of 1024). */
export function memoryBytes(setting: string): number {
  const unit = BUILD_MEMORY_PATTERN.exec(setting)?.[1] as 'kB' | 'MB' | 'GB' | undefined;
  if (!unit) throw new Error(`a memory setting must look like 65536kB, 512MB or 1GB; got "${setting}"`);
  return parseInt(setting, 10) * { kB: 1024, MB: 1024 ** 2, GB: 1024 ** 3 }[unit];
}

/**
 * The most rows whose HNSW graph pgvector builds inside `memory`
 * (maintenance_work_mem) for vectors of `dimensions` with `m` links, with a
 * tenth of it left spare. Past that, pgvector goes on inserting into the
 * on-disk index ("hnsw graph no longer fits into maintenance_work_mem"), many
 * times slower: measured with 64MB at 384 dimensions and m = 24, the graph
 * stopped fitting after 26,090 rows (2,572 bytes a row: the vector's 4 × d + 8,
 * 2m neighbour slots of 16 bytes on the base layer, ~260 of element and
 * allocation overhead), and 60,000 rows took 217 s against seconds in memory.
 */
export function hnswRowsInMemory(memory: string, dimensions: number, m: number): number {
  if (!Number.isInteger(dimensions) || dimensions < 1 || dimensions > 16_000) throw new RangeError(`dimensions must be an integer from 1 to 16000; got ${dimensions}`);
  if (!Number.isInteger(m) || m < 2 || m > 100) throw new RangeError(`HNSW m must be an integer from 2 to 100; got ${m}`);
  const perRow = 4 * dimensions + 8 + 32 * m + 260;
  return Math.floor((0.9 * memoryBytes(memory)) / perRow);
}
