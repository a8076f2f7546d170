/**
 * Runs fastembed (tokenizer + onnxruntime) in a worker thread, so the main
 * event loop keeps renewing BullMQ locks and hearing cancellations while a
 * batch is embedded. Messages: {init} once, then {id, texts} → {id, vectors}.
 */
import { parentPort } from 'node:worker_threads';
import { EmbeddingModel, FlagEmbedding } from 'fastembed';

let model: FlagEmbedding | undefined;

parentPort!.on('message', (msg: { type: 'init'; cacheDir: string; model: string; maxLength: number } | { type: 'embed'; id: number; texts: string[] }) => {
  void (async () => {
    try {
      if (msg.type === 'init') {
        model = await FlagEmbedding.init({
          model: msg.model as EmbeddingModel.BGESmallENV15,
          cacheDir: msg.cacheDir,
          maxLength: msg.maxLength,
          showDownloadProgress: false,
        });
        parentPort!.postMessage({ type: 'ready' });
        return;
      }
      const vectors: Float32Array[] = [];
      for await (const batch of model!.embed(msg.texts, 64)) for (const v of batch) vectors.push(Float32Array.from(v));
      parentPort!.postMessage({ type: 'result', id: msg.id, vectors }, vectors.map((v) => v.buffer as ArrayBuffer));
    } catch (err) {
      parentPort!.postMessage({ type: 'error', id: msg.type === 'embed' ? msg.id : -1, message: (err as Error).message });
    }
  })();
});
