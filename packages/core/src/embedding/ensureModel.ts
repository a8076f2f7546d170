import { cp, mkdir, mkdtemp, readdir, rename, rm } from 'node:fs/promises';
import path from 'node:path';
import { FlagEmbedding, EmbeddingModel } from 'fastembed';
import { ConfigError } from '../errors.js';

/** Files fastembed reads from a model folder. */
export const MODEL_FILES = ['tokenizer.json', 'config.json', 'tokenizer_config.json', 'special_tokens_map.json', 'model_optimized.onnx'] as const;

async function complete(dir: string): Promise<boolean> {
  try {
    const files = new Set(await readdir(dir));
    return MODEL_FILES.every((f) => files.has(f));
  } catch {
    return false;
  }
}

/**
 * Makes sure `<modelDir>/<model>/` holds a complete model. A missing model
 * is copied from `source` (a folder holding `<model>/`, e.g. an offline
 * mirror) or downloaded by fastembed, always into a temporary folder first
 * and then renamed into place: rename is atomic, so workers starting
 * together race harmlessly (the first rename wins, the others discard their
 * copy) and an interrupted download never leaves a half-written model.
 */
export async function ensureModel(opts: { modelDir: string; model: string; source?: string | undefined }): Promise<string> {
  const target = path.join(opts.modelDir, opts.model);
  if (await complete(target)) return target;
  await mkdir(opts.modelDir, { recursive: true });
  const tmp = await mkdtemp(path.join(opts.modelDir, `.incoming-${opts.model}-`));
  try {
    if (opts.source) {
      await cp(path.join(opts.source, opts.model), path.join(tmp, opts.model), { recursive: true });
    } else {
      // fastembed downloads and unpacks into the cache folder it is given: here, the temporary one.
      await (FlagEmbedding as unknown as { retrieveModel(m: EmbeddingModel, dir: string, progress: boolean): Promise<string> }).retrieveModel(
        opts.model as EmbeddingModel,
        tmp,
        false,
      );
    }
    if (!(await complete(path.join(tmp, opts.model)))) throw new Error(`the copy in ${tmp} is incomplete`);
    try {
      await rename(path.join(tmp, opts.model), target);
    } catch (err) {
      // Another worker won the race; its folder is complete (or it would not have renamed).
      if (!(await complete(target))) throw err;
    }
    return target;
  } catch (err) {
    if (await complete(target)) return target;
    throw new ConfigError(
      `embedding model "${opts.model}" is not in ${target} and could not be ${opts.source ? `copied from ${opts.source}` : 'downloaded'} (${(err as Error).message}). ` +
        `Put the files ${MODEL_FILES.join(', ')} in ${target} (KDB_MODEL_DIR), set KDB_MODEL_SOURCE to a folder holding ${opts.model}/, ` +
        'or use KDB_EMBEDDING_PROVIDER=hash, which needs no model and no network.',
      { cause: err },
    );
  } finally {
    await rm(tmp, { recursive: true, force: true });
  }
}
