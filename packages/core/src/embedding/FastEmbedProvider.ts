import { Worker } from 'node:worker_threads';
import { DEFAULTS } from '../config/defaults.js';
import { ConfigError, ProviderError } from '../errors.js';
import { modelKeyOf, type EmbedOptions, type EmbeddingProvider, type ProviderLimits } from './EmbeddingProvider.js';
import { ensureModel } from './ensureModel.js';

/** fastembed's models and their dimensions. */
export const FASTEMBED_MODELS: Record<string, number> = {
  'fast-bge-small-en-v1.5': 384,
  'fast-bge-small-en': 384,
  'fast-bge-base-en-v1.5': 768,
  'fast-bge-base-en': 768,
  'fast-all-MiniLM-L6-v2': 384,
  'fast-multilingual-e5-large': 1024,
  'fast-bge-small-zh-v1.5': 512,
};

export interface FastEmbedProviderOptions {
  /** Folder of model folders (KDB_MODEL_DIR); never the working directory. */
  modelDir: string;
  /** Default `fast-bge-small-en-v1.5` (BGE-small-en-v1.5, 384 dimensions). */
  model?: string;
  /** A folder holding `<model>/` to copy from instead of downloading. */
  source?: string | undefined;
  /** Tokens per input; longer texts are truncated by the tokenizer. Default 256. */
  maxLength?: number;
  /** Inputs per call. Default 256. */
  maxInputs?: number;
  /** onnxruntime intra-op threads of the inference thread. Default 1 (one core per worker process: scale with processes). */
  threads?: number;
}

/**
 * One inference thread per process and model: the native tokenizer and
 * onnxruntime are loaded once (loading them in several threads of one
 * process is not safe); onnxruntime's own thread pool (`threads`) spreads
 * each batch over cores.
 */
const threads = new Map<string, Promise<InferenceThread>>();

interface InferenceThread {
  worker: Worker;
  pending: Map<number, { resolve: (v: { vectors: Float32Array[]; truncated: number }) => void; reject: (e: Error) => void }>;
  seq: number;
}

function startThread(cacheDir: string, model: string, maxLength: number, threads: number): Promise<InferenceThread> {
  // Built: the compiled thread module. From the TypeScript sources (tests,
  // dev) the thread registers tsx itself: `--import tsx` does not reach
  // worker threads on Node 20.
  const worker = import.meta.url.endsWith('.ts')
    ? new Worker(
        `import('tsx/esm/api').then(({ register }) => { register(); return import(${JSON.stringify(new URL('./fastembedThread.ts', import.meta.url).href)}); })`,
        { eval: true },
      )
    : new Worker(new URL('./fastembedThread.js', import.meta.url));
  worker.unref();
  const t: InferenceThread = { worker, pending: new Map(), seq: 0 };
  return new Promise((resolve, reject) => {
    worker.on('message', (msg: { type: string; id?: number; vectors?: Float32Array[]; truncated?: number; message?: string }) => {
      if (msg.type === 'ready') resolve(t);
      else if (msg.type === 'error' && msg.id === -1) reject(new ConfigError(`fastembed could not load ${model}: ${msg.message}`));
      else {
        const p = t.pending.get(msg.id!);
        t.pending.delete(msg.id!);
        if (msg.type === 'result') p?.resolve({ vectors: msg.vectors!, truncated: msg.truncated ?? 0 });
        else p?.reject(new ProviderError(`fastembed failed: ${msg.message}`, { retryable: false }));
      }
    });
    worker.on('error', reject);
    worker.postMessage({ type: 'init', cacheDir, model, maxLength, threads });
  });
}

/**
 * Local ONNX embeddings through the `fastembed` package, computed in a
 * worker thread. `init()` loads (or fetches) the model and must succeed
 * before a worker takes jobs.
 */
export class FastEmbedProvider implements EmbeddingProvider {
  readonly name = 'fastembed';
  readonly model: string;
  readonly dimensions: number;
  readonly limits: ProviderLimits;
  readonly modelKey: string;
  private thread: Promise<InferenceThread> | undefined;

  constructor(private readonly opts: FastEmbedProviderOptions) {
    this.model = opts.model ?? 'fast-bge-small-en-v1.5';
    const dims = FASTEMBED_MODELS[this.model];
    if (opts.threads !== undefined && (!Number.isInteger(opts.threads) || opts.threads < 1 || opts.threads > 64)) {
      throw new ConfigError(`KDB_EMBEDDING_THREADS must be an integer from 1 to 64, got ${String(opts.threads)}`);
    }
    if (dims === undefined) {
      throw new ConfigError(`KDB_EMBEDDING_MODEL="${this.model}" is not a fastembed model; allowed: ${Object.keys(FASTEMBED_MODELS).join(', ')}`);
    }
    this.dimensions = dims;
    this.limits = { maxInputs: opts.maxInputs ?? 256 };
    this.modelKey = modelKeyOf(this.name, this.model, this.dimensions);
  }

  async init(): Promise<void> {
    await this.inference();
  }

  private inference(): Promise<InferenceThread> {
    this.thread ??= (async () => {
      await ensureModel({ modelDir: this.opts.modelDir, model: this.model, source: this.opts.source });
      const n = this.opts.threads ?? 1;
      const key = `${this.opts.modelDir}\u0000${this.model}\u0000${this.opts.maxLength ?? DEFAULTS.modelMaxLength}\u0000${n}`;
      let t = threads.get(key);
      if (!t) {
        t = startThread(this.opts.modelDir, this.model, this.opts.maxLength ?? DEFAULTS.modelMaxLength, n);
        threads.set(key, t);
        t.catch(() => threads.delete(key));
      }
      return t;
    })();
    return this.thread;
  }

  async embed(texts: readonly string[], opts: EmbedOptions = {}): Promise<Float32Array[]> {
    const t = await this.inference();
    opts.signal?.throwIfAborted();
    const id = t.seq++;
    const out = await new Promise<{ vectors: Float32Array[]; truncated: number }>((resolve, reject) => {
      t.pending.set(id, { resolve, reject });
      t.worker.postMessage({ type: 'embed', id, texts: [...texts] });
      // A cancelled run stops waiting at once; the thread's answer is then dropped.
      opts.signal?.addEventListener('abort', () => {
        t.pending.delete(id);
        reject(opts.signal!.reason instanceof Error ? opts.signal!.reason : new Error('aborted'));
      });
    });
    if (out.truncated) opts.onTruncated?.(out.truncated);
    return out.vectors;
  }
}
