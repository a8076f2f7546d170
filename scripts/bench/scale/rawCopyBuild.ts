import { execFile } from 'node:child_process';
import { mkdtemp, rm, statfs } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

export interface RawCopyBuild {
  copyS: number;
  buildS: number;
  rows: number;
}

/**
 * The raw baseline of "all searchable": the same vectors (exported from the
 * pipeline's vector table with binary COPY, not timed) loaded by binary COPY
 * (psql \copy, client side as a loader would) into a plain pgvector table,
 * then its HNSW index built with the segments' m, ef_construction and
 * maintenance_work_mem. The table is dropped after.
 */
export async function rawCopyBuild(url: string, opts: { vectorTable: string; dimensions: number; m: number; efConstruction: number; buildMemory: string; expectedBytes: number }): Promise<RawCopyBuild> {
  const dir = await mkdtemp(join(tmpdir(), 'kdb-bench-scale-'));
  const fs = await statfs(dir);
  // Fail before the export rather than fill the disk halfway through it.
  if (fs.bavail * fs.bsize < 2 * opts.expectedBytes) {
    await rm(dir, { recursive: true, force: true });
    throw new Error(`raw baseline needs ~${(opts.expectedBytes / 1e9).toFixed(1)} GB free in ${tmpdir()} for the exported vectors, ${((fs.bavail * fs.bsize) / 1e9).toFixed(1)} GB are`);
  }
  const file = join(dir, 'vectors.bin');
  const psql = (...commands: string[]) => run('psql', ['-X', '-q', '-v', 'ON_ERROR_STOP=1', url, ...commands.flatMap((c) => ['-c', c])], { maxBuffer: 1 << 20 });
  try {
    await psql(`\\copy (SELECT embedding FROM ${opts.vectorTable} WHERE embedding IS NOT NULL ORDER BY vector_seq) TO '${file}' WITH (FORMAT binary)`);
    await psql(
      'DROP TABLE IF EXISTS kdb_bench_raw',
      `CREATE TABLE kdb_bench_raw (id bigserial PRIMARY KEY, embedding vector(${opts.dimensions}))`,
      // As the pipeline's vector table: the vector stays in the row, not in TOAST.
      'ALTER TABLE kdb_bench_raw ALTER embedding SET STORAGE PLAIN',
    );
    let t = performance.now();
    await psql(`\\copy kdb_bench_raw (embedding) FROM '${file}' WITH (FORMAT binary)`);
    const copyS = (performance.now() - t) / 1000;
    t = performance.now();
    await psql(`SET maintenance_work_mem = '${opts.buildMemory}'`, `CREATE INDEX kdb_bench_raw_hnsw ON kdb_bench_raw USING hnsw (embedding vector_cosine_ops) WITH (m = ${opts.m}, ef_construction = ${opts.efConstruction})`);
    const buildS = (performance.now() - t) / 1000;
    const rows = Number((await run('psql', ['-X', '-At', url, '-c', 'SELECT count(*) FROM kdb_bench_raw'])).stdout.trim());
    return { copyS, buildS, rows };
  } finally {
    await psql('DROP TABLE IF EXISTS kdb_bench_raw').catch(() => undefined);
    await rm(dir, { recursive: true, force: true });
  }
}
