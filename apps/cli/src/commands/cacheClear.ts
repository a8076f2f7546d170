import type { CacheClearAnswer, KameleonClient } from '@kameleondb/client';
import { CliError } from '../CliError.js';
import type { CommandResult } from '../output.js';

export interface CacheClearOptions {
  olderThan?: string;
  model?: string;
  /** Every entry (also what no filter means). */
  all?: boolean;
  /** Skip the confirmation of deleting every entry. */
  yes?: boolean;
  /** Asks on the terminal; undefined when there is none to ask on. */
  confirm?: ((question: string) => Promise<boolean>) | undefined;
}

/**
 * `embeddings cache clear [--older-than 30d] [--model M]`, or `--all`: every
 * entry, which re-embedding pays for again, so it is confirmed on a terminal
 * or by --yes; without either it is a usage error (exit 2).
 */
export async function cacheClear(api: KameleonClient, opts: CacheClearOptions): Promise<CommandResult<CacheClearAnswer | { deleted: 0; aborted: true }>> {
  const filtered = Boolean(opts.olderThan || opts.model);
  if (opts.all && filtered) throw new CliError('--all deletes every entry: give it alone, or give --older-than and/or --model instead', 2);
  if (!filtered && !opts.yes) {
    if (!opts.confirm) throw new CliError('clearing the whole embedding cache needs confirmation and there is no terminal to ask on: pass --yes (or limit it with --older-than 30d or --model KEY)', 2);
    const { entries } = await api.cache.summary();
    if (!(await opts.confirm(`delete all ${entries} embedding cache entries? Re-embedding their texts calls the provider again.`))) {
      return { data: { deleted: 0, aborted: true }, human: () => 'nothing deleted', exitCode: 1 };
    }
  }
  const data = await api.cache.clear(filtered ? { olderThan: opts.olderThan, model: opts.model } : { all: true });
  return {
    data,
    human: (d) => {
      const c = d as CacheClearAnswer;
      return `deleted ${c.deleted} cache entries${c.olderThan ? ` not used for ${c.olderThan}` : ''}${c.model ? ` of ${c.model}` : ''}`;
    },
  };
}
