import { ConflictError, startReindex, type ReindexRun } from '@kameleondb/core';

type Deps = Parameters<typeof startReindex>[0];
type Options = Parameters<typeof startReindex>[1];

/**
 * startReindex whose 409 names the scope of the run that is in the way (an
 * entity's run blocks a run for all, and the reverse), not the scope asked for.
 */
export async function startReindexNamingConflict(deps: Deps, opts: Options): Promise<ReindexRun> {
  try {
    return await startReindex(deps, opts);
  } catch (err) {
    const activeRunId = (err as ConflictError).details && ((err as ConflictError).details as { activeRunId?: unknown }).activeRunId;
    if (!(err instanceof ConflictError) || typeof activeRunId !== 'string') throw err;
    const active = await deps.runs.get(activeRunId).catch(() => null);
    if (!active) throw err;
    const scope = active.entity === null ? 'all entities' : `entity "${active.entity}"`;
    throw new ConflictError(`a reindex run is already active for ${scope}: ${active.id}; cancel it or wait for it to end`, {
      activeRunId: active.id,
      activeEntity: active.entity,
    });
  }
}
