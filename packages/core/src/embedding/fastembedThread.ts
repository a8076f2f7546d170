/**
 * Runs fastembed (tokenizer + onnxruntime) in a worker thread, so the main
 * event loop keeps renewing BullMQ locks and hearing cancellations while a
 * batch is embedded. Messages: {init} once, then {id, texts} → {id, vectors,
 * truncated}.
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { parentPort } from 'node:worker_threads';
import { EmbeddingModel, FlagEmbedding } from 'fastembed';
import * as ort from 'onnxruntime-node';

interface Encoding {
  getOverflowing(): unknown[];
}
interface Tokenizer {
  encode(text: string): Promise<Encoding>;
}
/** fastembed's own tokenizer loader and constructor (public in its JavaScript, private in its types). */
const Flag = FlagEmbedding as unknown as {
  loadTokenizer(modelDir: string, maxLength: number): Tokenizer;
  new (tokenizer: Tokenizer, session: ort.InferenceSession, model: string): FlagEmbedding;
};

let model: FlagEmbedding | undefined;
let tokenizer: Tokenizer | undefined;

type Message =
  | { type: 'init'; cacheDir: string; model: string; maxLength: number; threads: number }
  | { type: 'embed'; id: number; texts: string[] };

parentPort!.on('message', (msg: Message) => {
  void (async () => {
    try {
      if (msg.type === 'init') {
        // fastembed's init, with the session's thread count set (its init takes none).
        const dir = path.join(msg.cacheDir, msg.model);
        tokenizer = Flag.loadTokenizer(dir, msg.maxLength);
        const file = ['model_optimized.onnx', 'model.onnx'].map((f) => path.join(dir, f)).find((f) => existsSync(f));
        if (!file) throw new Error(`no model_optimized.onnx or model.onnx in ${dir}`);
        const session = await ort.InferenceSession.create(file, {
          executionProviders: ['cpu'],
          graphOptimizationLevel: 'all',
          intraOpNumThreads: msg.threads,
          interOpNumThreads: 1,
        });
        model = new Flag(tokenizer, session, msg.model as EmbeddingModel);
        parentPort!.postMessage({ type: 'ready' });
        return;
      }
      const vectors: Float32Array[] = [];
      for await (const batch of model!.embed(msg.texts, 64)) for (const v of batch) vectors.push(Float32Array.from(v));
      // The tokenizer truncates at maxLength and keeps what it cut as "overflowing".
      let truncated = 0;
      for (const text of msg.texts) if ((await tokenizer!.encode(text)).getOverflowing().length > 0) truncated++;
      parentPort!.postMessage({ type: 'result', id: msg.id, vectors, truncated }, vectors.map((v) => v.buffer as ArrayBuffer));
    } catch (err) {
      parentPort!.postMessage({ type: 'error', id: msg.type === 'embed' ? msg.id : -1, message: (err as Error).message });
    }
  })();
});
