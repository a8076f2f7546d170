import type pg from 'pg';
import { blockTopK, type BlockTopK, type BlockTopKOptions } from './blockTopK.js';
import { byScoreThenId, keywordTopK, type KeywordHit, type KeywordTopK, type KeywordTopKOptions } from './keywordTopK.js';

export interface KeywordTopKAllLayouts {
  /** Exact top k over both layouts: score descending, then id ascending. */
  hits: KeywordHit[];
  /** The row layout's search (kdb_postings). */
  rows: KeywordTopK;
  /** The blocks' search (kdb_postings_blocks). */
  blocks: BlockTopK;
}

/**
 * The exact keyword top k over both postings layouts: a document's postings
 * are rows or blocks, never both (sql/000018), so the top k of the whole is
 * the merge of each layout's exact top k, searched side by side.
 */
export async function keywordTopKAllLayouts(db: pg.Pool, opts: KeywordTopKOptions & Pick<BlockTopKOptions, 'firstGroups'>): Promise<KeywordTopKAllLayouts> {
  const [rows, blocks] = await Promise.all([
    keywordTopK(db, opts),
    blockTopK(db, { entities: opts.entities, terms: opts.terms, k: opts.k, k1: opts.k1, b: opts.b, avgdl: opts.avgdl, where: opts.where, firstGroups: opts.firstGroups }),
  ]);
  return { hits: [...rows.hits, ...blocks.hits].sort(byScoreThenId).slice(0, opts.k), rows, blocks };
}
