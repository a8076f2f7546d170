import { z } from 'zod';

/**
 * Keyword analyzers an entity may declare: `simple` (the tokenizer as is:
 * what is written is what is found), or a Snowball language (stop words
 * dropped, words stemmed, identifiers kept whole).
 */
export const ANALYZERS = ['simple', 'english', 'german'] as const;
export type Analyzer = (typeof ANALYZERS)[number];

export const analyzerSchema = z.enum(ANALYZERS, { message: `analyzer must be one of ${ANALYZERS.join(', ')}` });

export const ANALYZER_RUN_STATES = ['running', 'dropping', 'completed', 'cancelled', 'failed'] as const;
export type AnalyzerRunState = (typeof ANALYZER_RUN_STATES)[number];

/**
 * A rebuild of an entity's postings under another analyzer: `running` while
 * the new postings are written (the old ones serve searches), `dropping`
 * once searches use the new ones and the old ones are being removed, then
 * `completed`; `cancelled` drops the new ones and keeps the old analyzer.
 */
export interface AnalyzerRun {
  id: string;
  entity: string;
  from: Analyzer;
  to: Analyzer;
  state: AnalyzerRunState;
  /** Records to rebuild (counted when the run starts; records written meanwhile are indexed by their writers). */
  total: number;
  processed: number;
  /** `host:pid` of the process that wrote its last batch (another process resumes a run whose process died). */
  driver: string | null;
  /** The run was asked to stop. */
  cancelRequested: boolean;
  error: string | null;
  createdAt: string;
  updatedAt: string;
  /** When searches switched to the new postings. */
  switchedAt: string | null;
  finishedAt: string | null;
}
