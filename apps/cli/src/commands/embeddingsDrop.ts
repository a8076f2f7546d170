import type { KameleonClient } from '@kameleondb/client';
import { CliError } from '../CliError.js';
import type { CommandResult } from '../output.js';

export interface DropOptions {
  /** Skip the confirmation. */
  yes?: boolean;
  /** Asks on the terminal; undefined when there is none to ask on. */
  confirm?: ((question: string) => Promise<boolean>) | undefined;
}

/**
 * `embeddings drop KEY`: deletes a space that is not active, with its vectors
 * and segments. Going back to it later re-embeds every row (the cache makes
 * texts it has seen free), so it is confirmed on a terminal or by --yes.
 */
export async function embeddingsDrop(api: KameleonClient, key: string, opts: DropOptions): Promise<CommandResult<{ dropped: string } | { dropped: null; aborted: true }>> {
  if (!opts.yes) {
    if (!opts.confirm) throw new CliError(`dropping space ${key} needs confirmation and there is no terminal to ask on: pass --yes`, 2);
    const space = (await api.spaces.list()).spaces.find((s) => s.modelKey === key);
    const what = space ? `${space.embedded} vectors` : 'its vectors';
    if (!(await opts.confirm(`drop space ${key} and ${what}? Using it again re-embeds every row.`))) {
      return { data: { dropped: null, aborted: true }, human: () => 'nothing dropped', exitCode: 1 };
    }
  }
  const data = await api.spaces.drop(key);
  return { data, human: (d) => `dropped space ${(d as { dropped: string }).dropped}` };
}
