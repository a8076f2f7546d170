/**
 * Runs one LangChain.js turn (langchainChild.ts) as a child process and
 * returns what it measured. A child that exits non-zero or prints no result
 * fails the turn with its output.
 */
import { spawn } from 'node:child_process';
import { ROOT } from '../harness.js';
import type { SearchAtRecall } from './searchAtRecall.js';

export interface LangChainTurnInput {
  label: string;
  dbUrl: string;
  redisUrl: string;
  /** The local OpenAI wire-format server (ends in /v1). */
  baseURL: string;
  n: number;
  /** The table already holds the `n` documents (a search turn of a search-only run): nothing is loaded. Default false. */
  loaded?: boolean;
  /** OpenAIEmbeddings batchSize; its default (512) when absent. */
  batchSize?: number;
  /** CacheBackedEmbeddings on Redis under this key namespace; no cache when absent. */
  cacheNamespace?: string;
  /** The same texts again as new documents after the first load. */
  reingest: boolean;
  search?: { queries: number; recallQueries: number };
}

export interface LangChainTurnOutput {
  phases: Partial<Record<'load' | 'reingest', { seconds: number; start: number; end: number }>>;
  search?: SearchAtRecall & { plan?: string };
  maxRssKB: number;
}

export function runLangChainTurn(input: LangChainTurnInput, timeoutMs: number): Promise<LangChainTurnOutput> {
  return new Promise((resolve, reject) => {
    const proc = spawn(process.execPath, ['--conditions=source', '--import', 'tsx', 'scripts/bench/peer/langchainChild.ts', JSON.stringify(input)], {
      cwd: ROOT,
      env: { PATH: process.env.PATH ?? '', NODE_NO_WARNINGS: '1' },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    // A turn that never finishes is a failure, not a hang of the whole bench.
    const timer = setTimeout(() => proc.kill('SIGKILL'), timeoutMs);
    let stdout = '';
    proc.stdout.on('data', (b: Buffer) => (stdout += b.toString()));
    proc.on('exit', (code, signal) => {
      clearTimeout(timer);
      const line = stdout.split('\n').find((l) => l.startsWith('RESULT '));
      if (code === 0 && line) resolve(JSON.parse(line.slice('RESULT '.length)) as LangChainTurnOutput);
      else reject(new Error(`LangChain turn ${input.label} ended with ${code ?? signal}${signal === 'SIGKILL' ? ` (not done within ${timeoutMs / 1000} s)` : ''}:\n${stdout}`));
    });
  });
}
