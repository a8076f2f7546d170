import { execFile } from 'node:child_process';
import { mkdtemp, readdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FastEmbedProvider } from '@kameleondb/core';
import { startPipeline, type Pipeline } from '../../../test-support/startPipeline.js';
import { readVectors } from '../../../test-support/testDatabase.js';

const ROOT = fileURLToPath(new URL('../../..', import.meta.url));

describe('fastembed provider in real processes: API and two workers start at once on an empty model folder', () => {
  let p: Pipeline;
  let source: string;
  let modelDir: string;

  beforeAll(async () => {
    source = await mkdtemp(path.join(tmpdir(), 'kdb-model-src-'));
    await promisify(execFile)('/usr/bin/python3', [path.join(ROOT, 'scripts/model/make-tiny-model.py'), source]);
    modelDir = await mkdtemp(path.join(tmpdir(), 'kdb-models-'));
    p = await startPipeline({
      workers: 2,
      // Two onnxruntime threads per worker: the vectors must not change with the thread count.
      env: { KDB_EMBEDDING_PROVIDER: 'fastembed', KDB_MODEL_DIR: modelDir, KDB_MODEL_SOURCE: source, KDB_MODEL_MAX_LENGTH: '64', KDB_EMBEDDING_THREADS: '2' },
    });
  });
  afterAll(() => p.close());

  it('installs the model once, embeds every record with it, and searches with it', async () => {
    expect(await readdir(modelDir)).toEqual(['fast-bge-small-en-v1.5']);
    await p.call('POST', '/v1/entities', { name: 'docs', fields: { t: 'text' }, embedFields: ['t'] });
    const records = Array.from({ length: 300 }, (_, i) => ({ t: `the quick brown fox number ${i}` }));
    // Three texts over the model's 64 tokens: truncated by the tokenizer, counted in the workers' metrics.
    for (let i = 0; i < 3; i++) records.push({ t: `long text ${i} ${'lazy dog '.repeat(80)}` });
    const res = await p.call('POST', '/v1/entities/docs/records?wait=true', records);
    expect(res.body.counts).toEqual({ ready: 303, pending: 0, failed: 0 });
    const status = await p.call('GET', '/v1/embeddings/status');
    expect(status.body).toMatchObject({ provider: 'fastembed', model: 'fast-bge-small-en-v1.5', dimensions: 384 });
    const local = new FastEmbedProvider({ modelDir, maxLength: 64 });
    const rows = await readVectors(p.db.pool, res.body.ids.slice(0, 20));
    for (const row of rows.values()) {
      const [expected] = await local.embed([row.content]);
      expect(Math.max(...row.vector!.map((x, i) => Math.abs(x - expected![i]!)))).toBeLessThan(1e-5);
    }
    const search = await p.call('GET', '/v1/search?q=quick%20brown%20fox%20number%207&entity=docs&mode=vector&limit=3');
    expect(search.body.results).toHaveLength(3);
    let truncated = 0;
    for (const w of p.workers) {
      const text = await (await fetch(`${w.probesUrl}/metrics`)).text();
      const m = /^kdb_provider_truncated_inputs_total\{[^}]*provider="fastembed"[^}]*\} (\d+)/m.exec(text);
      truncated += Number(m?.[1] ?? 0);
    }
    expect(truncated).toBe(3);
  });
});
