import type pg from 'pg';
import type { EmbeddingProvider } from '../embedding/EmbeddingProvider.js';
import { ConfigError, KdbError, ValidationError } from '../errors.js';
import { activeSpace, listSpaces, seedKey, seedSpace, type EmbeddingSpace, type SpaceSeed } from '../store/embeddingSpaceStore.js';
import { withTransaction } from '../store/withTransaction.js';
import { reuseFor } from '../util/reuseFor.js';

/** Makes the provider of a space from its row and the secrets of the process's environment. */
export type ProviderFactory = (space: EmbeddingSpace) => EmbeddingProvider | Promise<EmbeddingProvider>;

export interface SpaceProvidersOptions {
  pool: pg.Pool;
  build: ProviderFactory;
  /** How long the spaces read from Postgres are reused, in ms: a new active space is served within this (plus a search). Default 300. */
  refreshMs?: number;
  /** A failed provider build is tried again after this, in ms (model files copied in, a key added to a new process). Default 30,000. */
  retryBuildMs?: number;
  /** Made the active space on a database without any (an embedded pipeline, tests); processes seed at start-up (migrate). */
  seed?: EmbeddingProvider;
}

/** A space whose provider this process cannot build, and why (readiness names it). */
export interface SpaceProblem {
  space: string;
  error: string;
}

/**
 * The embedding spaces as a process sees them: the spaces re-read from
 * Postgres at most every `refreshMs` (so every API process serves a new
 * active space within a second of the switch, without a restart), and one
 * provider per space, built once from the space's row (`build`) and kept.
 * A space whose provider cannot be built is remembered with the reason
 * (`problems`), never skipped silently: its work fails and is retried.
 */
export class SpaceProviders {
  private readonly read: (fresh?: boolean) => Promise<EmbeddingSpace[]>;
  private readonly providers = new Map<string, Promise<EmbeddingProvider>>();
  private readonly failed = new Map<string, { error: string; at: number }>();

  constructor(private readonly opts: SpaceProvidersOptions) {
    this.read = reuseFor(opts.refreshMs ?? 300, async () => {
      let spaces = await listSpaces(opts.pool);
      if (spaces.length === 0 && opts.seed) {
        const seed = opts.seed;
        await withTransaction(opts.pool, (c) => seedSpace(c, { provider: seed.name, model: seed.model, dimensions: seed.dimensions }));
        spaces = await listSpaces(opts.pool);
      }
      return spaces;
    });
  }

  /** Spaces served by one provider: the space of its model key (seeded on an empty database); no other space's provider can be built. */
  static single(pool: pg.Pool, provider: EmbeddingProvider): SpaceProviders {
    return new SpaceProviders({
      pool,
      seed: provider,
      build: (space) => {
        if (space.modelKey === provider.modelKey) return provider;
        throw new ConfigError(`this process has the provider of "${provider.modelKey}" only, not of space "${space.modelKey}"`);
      },
    });
  }

  /** Every space (reused for refreshMs; `fresh` reads again). */
  spaces(fresh = false): Promise<EmbeddingSpace[]> {
    return this.read(fresh);
  }

  /** The active space now, read fresh from Postgres (an operator's question, not a search's). */
  async activeNow(): Promise<EmbeddingSpace | null> {
    return activeSpace(this.opts.pool);
  }

  /** The space of `modelKey` (null: the active one). */
  async space(modelKey: string | null | undefined): Promise<EmbeddingSpace> {
    const spaces = await this.read();
    const found = modelKey ? spaces.find((s) => s.modelKey === modelKey) ?? (await this.read(true)).find((s) => s.modelKey === modelKey) : spaces.find((s) => s.state === 'active');
    if (found) return found;
    if (modelKey) throw new KdbError('not_found', `embedding space "${modelKey}" does not exist; spaces: ${spaces.map((s) => s.modelKey).join(', ') || '(none)'}`, { details: { space: modelKey } });
    throw new KdbError('unavailable', 'no embedding space is active yet: start a worker or the API with KDB_EMBEDDING_* set, which seeds the first one');
  }

  /** The active space and its provider. */
  async active(): Promise<{ space: EmbeddingSpace; provider: EmbeddingProvider }> {
    const space = await this.space(null);
    return { space, provider: await this.providerFor(space) };
  }

  /** The provider of `space`, built on first use; throws (and remembers why) when it cannot be built. */
  providerFor(space: EmbeddingSpace): Promise<EmbeddingProvider> {
    const kept = this.providers.get(space.modelKey);
    if (kept) return kept;
    const fail = this.failed.get(space.modelKey);
    if (fail && Date.now() - fail.at < (this.opts.retryBuildMs ?? 30_000)) {
      return Promise.reject(new KdbError('unavailable', fail.error, { details: { space: space.modelKey } }));
    }
    const built = (async () => {
      try {
        const p = await this.opts.build(space);
        await p.init?.();
        if (p.modelKey !== space.modelKey) throw new ConfigError(`the provider made for it has model key "${p.modelKey}"`);
        return p;
      } catch (err) {
        // Unavailable (503) rather than a server error: this process lacks what the space needs, another may not.
        throw new KdbError('unavailable', `this process cannot make the provider of embedding space "${space.modelKey}": ${(err as Error).message}`, {
          details: { space: space.modelKey },
          cause: err,
        });
      }
    })();
    this.providers.set(space.modelKey, built);
    built.then(
      () => this.failed.delete(space.modelKey),
      (err: unknown) => {
        this.providers.delete(space.modelKey);
        this.failed.set(space.modelKey, { error: (err as Error).message, at: Date.now() });
      },
    );
    return built;
  }

  /**
   * The provider a new space of `seed` would get, built but not initialised
   * (no model loaded) nor kept: its settings are checked (a key missing from
   * this environment, a dimension the model does not have) before the space
   * exists. Throws a ValidationError naming the problem.
   */
  async check(seed: SpaceSeed): Promise<EmbeddingProvider> {
    const key = seedKey(seed);
    let p: EmbeddingProvider;
    try {
      p = await this.opts.build({
        id: 0,
        modelKey: key,
        provider: seed.provider,
        model: seed.model,
        dimensions: seed.dimensions,
        baseUrl: seed.baseUrl ?? null,
        state: 'building',
        activate: 'auto',
        buildRunId: null,
        createdAt: new Date().toISOString(),
        activatedAt: null,
        retiredAt: null,
      });
    } catch (err) {
      throw new ValidationError(`this process cannot make the provider of "${key}": ${(err as Error).message}`, { space: key });
    }
    if (p.modelKey !== key) {
      throw new ValidationError(`${seed.provider} model "${seed.model}" makes vectors of ${p.dimensions} dimensions, not ${seed.dimensions}: ask for dimensions ${p.dimensions}`, {
        space: key,
        dimensions: p.dimensions,
      });
    }
    return p;
  }

  /**
   * Tries to build the provider of every active or building space and
   * returns those that fail, with the reason.
   */
  async problems(): Promise<SpaceProblem[]> {
    const spaces = (await this.read()).filter((s) => s.state !== 'retired');
    const out: SpaceProblem[] = [];
    for (const space of spaces) {
      try {
        await this.providerFor(space);
      } catch (err) {
        out.push({ space: space.modelKey, error: (err as Error).message });
      }
    }
    return out;
  }
}
