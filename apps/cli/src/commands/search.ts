import type { KameleonClient, SearchAnswer, SearchMode, SearchRequest } from '@kameleondb/client';
import { CliError } from '../CliError.js';
import { table, type CommandResult } from '../output.js';

export interface SearchOptions {
  /** `-e`: the entity to search (default: the first of two positional words, else every entity). */
  entity?: string;
  /** hybrid, vector or keyword (default: the API's, hybrid). */
  mode?: string;
  /** `-n`: results, 1 to 100 (default: the API's, 10). */
  limit?: number;
  /** `-t`: drop results scoring under this (default: none). */
  threshold?: number;
  /** `-w`: equality filter on record fields (default: none). */
  where?: Record<string, unknown>;
  /** Ranks, scores, timings and plans (default false). */
  explain: boolean;
  /** `--fusion`: rrf or linear (hybrid only; default: the API's, rrf). */
  fusion?: string;
  /** `--rrf-k`: the RRF constant, 1 to 1000 (default: the API's, 60). */
  rrfK?: number;
  /** `--weights K,V`: keyword and vector weights of linear fusion. */
  weights?: { keyword: number; vector: number };
  /** `--normalization`: minmax, l2 or zscore (linear only; default: the API's, minmax). */
  normalization?: string;
  /** `--no-cache` sets it false: bypass the result cache (default true). */
  cache: boolean;
}

type Answer = SearchAnswer;

const clip = (s: string, n: number) => (s.length > n ? `${s.slice(0, n - 1)}…` : s);

/**
 * The request of `search QUERY [-e ENTITY]`, KameleonDB's form, or `search ENTITY QUERY`:
 * with -e every word is the query; without it, two or more words are entity and query.
 */
export function searchRequest(args: string[], opts: SearchOptions): SearchRequest {
  const [entity, q] = opts.entity ? [opts.entity, args.join(' ')] : args.length >= 2 ? [args[0], args.slice(1).join(' ')] : [undefined, args[0]];
  if (!q?.trim()) throw new CliError('missing query: kameleondb search "query" [-e ENTITY]', 2);
  return {
    q,
    ...(entity ? { entity } : {}),
    ...(opts.mode ? { mode: opts.mode as SearchMode } : {}),
    ...(opts.limit !== undefined ? { limit: opts.limit } : {}),
    ...(opts.threshold !== undefined ? { threshold: opts.threshold } : {}),
    ...(opts.where ? { where: opts.where as Record<string, string | number | boolean | null> } : {}),
    ...(opts.explain ? { explain: true } : {}),
    ...(opts.fusion ? { fusion: opts.fusion as SearchRequest['fusion'] } : {}),
    ...(opts.rrfK !== undefined ? { rrfK: opts.rrfK } : {}),
    ...(opts.weights ? { weights: opts.weights } : {}),
    ...(opts.normalization ? { normalization: opts.normalization as SearchRequest['normalization'] } : {}),
    ...(opts.cache === false ? { cache: false } : {}),
  };
}

/** `search QUERY [-e ENTITY] [-n N] [-t T] [-w JSON] [--mode M] [--explain]`. */
export async function search(api: KameleonClient, args: string[], opts: SearchOptions): Promise<CommandResult<Answer>> {
  const body = searchRequest(args, opts);
  const data = await api.search(body);
  return {
    data,
    human: (a) => {
      if (a.count === 0) return `no results (${a.mode}, ${a.took_ms} ms, space ${a.space}${a.cached ? ', cached' : ''})`;
      const rows = a.results.map((r, i) => {
        const ranks = r.explain ? (['keyword', 'vector'] as const).map((k) => (r.explain![k] ? `${k[0]}#${r.explain![k]!.rank}` : '')).filter(Boolean).join(' ') : '';
        return [i + 1, r.score.toFixed(4), r.entity, r.id, ...(opts.explain ? [ranks] : []), clip(r.content, 70)];
      });
      const lines = [table(['#', 'SCORE', 'ENTITY', 'ID', ...(opts.explain ? ['RANKS'] : []), 'CONTENT'], rows), '', `${a.count} results, ${a.mode}, ${a.took_ms} ms, space ${a.space}${a.cached ? ', cached' : ''}`];
      if (a.explain) {
        lines.push(`timings (ms): ${Object.entries(a.explain.timings_ms).map(([k, v]) => `${k} ${v}`).join(', ')}`);
        for (const [k, plan] of Object.entries(a.explain.plans)) lines.push('', `${k} plan:`, plan);
      }
      return lines.join('\n');
    },
  };
}
