import { execFile } from 'node:child_process';
import { mkdtemp, readdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { beforeAll, describe, expect, it } from 'vitest';
import { ConfigError, FastEmbedProvider } from '@kameleondb/core';
import { ensureModel, MODEL_FILES } from '../src/embedding/ensureModel.js';

const ROOT = fileURLToPath(new URL('../../..', import.meta.url));
const norm = (v: Float32Array) => Math.sqrt(v.reduce((s, x) => s + x * x, 0));

describe('FastEmbedProvider (real fastembed + onnxruntime on a generated tiny model)', () => {
  let source: string;
  const make = (modelDir: string, withSource = true) => new FastEmbedProvider({ modelDir, ...(withSource ? { source } : {}), maxLength: 64 });

  beforeAll(async () => {
    source = await mkdtemp(path.join(tmpdir(), 'kdb-model-src-'));
    await promisify(execFile)('/usr/bin/python3', [path.join(ROOT, 'scripts/model/make-tiny-model.py'), source]);
  });

  it('embeds: 384-dim unit vectors, deterministic, identical texts identical, different texts different', async () => {
    const p = make(await mkdtemp(path.join(tmpdir(), 'kdb-models-')));
    expect(p.modelKey).toBe('fastembed:fast-bge-small-en-v1.5:384');
    const [a] = await p.embed(['The quick brown fox']);
    const [b, c] = await p.embed(['The quick brown fox', 'invoice for order 12345']);
    expect(a).toHaveLength(384);
    expect(norm(a!)).toBeCloseTo(1, 5);
    // The same call gives the same floats; another batch around the text may move the last bits (float sums).
    const [again] = await p.embed(['The quick brown fox']);
    expect(Array.from(again!)).toEqual(Array.from(a!));
    expect(Math.max(...Array.from(a!).map((x, i) => Math.abs(x - b![i]!)))).toBeLessThan(1e-6);
    expect(Math.max(...Array.from(a!).map((x, i) => Math.abs(x - c![i]!)))).toBeGreaterThan(1e-3);
  });

  it("counts the inputs the tokenizer cut to the model's token limit", async () => {
    const p = make(await mkdtemp(path.join(tmpdir(), 'kdb-models-')));
    const counted: number[] = [];
    const onTruncated = (n: number) => counted.push(n);
    await p.embed(['short text', `long ${'quick brown fox '.repeat(40)}`, `longer ${'lazy dog '.repeat(100)}`], { onTruncated });
    expect(counted).toEqual([2]);
    await p.embed(['short text'], { onTruncated });
    expect(counted).toEqual([2]);
  });

  it('rejects a thread count it cannot use', () => {
    expect(() => new FastEmbedProvider({ modelDir: '/tmp/x', threads: 0 })).toThrow(/KDB_EMBEDDING_THREADS must be an integer from 1 to 64, got 0/);
  });

  it('runs inference off the main event loop', async () => {
    const p = make(await mkdtemp(path.join(tmpdir(), 'kdb-models-')));
    await p.init();
    let ticks = 0;
    const timer = setInterval(() => ticks++, 5);
    const t = performance.now();
    await p.embed(Array.from({ length: 3000 }, (_, i) => `text number ${i} about the quick brown fox and the lazy dog`));
    const ms = performance.now() - t;
    clearInterval(timer);
    // The timer kept firing while the batch was embedded.
    expect(ticks).toBeGreaterThan((ms / 5) * 0.3);
  });

  it('several workers starting at once on an empty model folder: one complete model, no leftovers', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'kdb-models-'));
    const installed = await Promise.all([1, 2, 3, 4].map(() => ensureModel({ modelDir: dir, model: 'fast-bge-small-en-v1.5', source })));
    expect(new Set(installed).size).toBe(1);
    const [v] = await make(dir).embed(['same text']);
    expect(v).toHaveLength(384);
    expect(await readdir(dir)).toEqual(['fast-bge-small-en-v1.5']);
    expect((await readdir(path.join(dir, 'fast-bge-small-en-v1.5'))).sort()).toEqual([...MODEL_FILES].sort());
  });

  it('with no model and no way to fetch one, fails at start naming the folder, the files and the hash provider', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'kdb-models-'));
    const err = await make(dir, false).init().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as Error).message).toContain(path.join(dir, 'fast-bge-small-en-v1.5'));
    expect((err as Error).message).toMatch(/tokenizer\.json, config\.json.*model_optimized\.onnx.*KDB_EMBEDDING_PROVIDER=hash/);
    expect(await readdir(dir)).toEqual([]);
  });
});
