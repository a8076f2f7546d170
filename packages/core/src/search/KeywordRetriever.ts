import type pg from 'pg';
import { analyzerOf, type Analyzer } from '../content/analyzers.js';
import { reuseFor } from '../util/reuseFor.js';
import { BM25_B, BM25_K1, bm25Idf } from './bm25Statistics.js';
import { byScoreThenId, readStatsAndHeads } from './keywordTopK.js';
import { keywordTopKAllLayouts } from './keywordTopKAllLayouts.js';
import type { RankedHit } from './rrf.js';
import type { Timings } from './Timings.js';

/** What explain shows of the BM25 statistics a search used. */
export interface Bm25Explain {
  k1: number;
  b: number;
  documents: number;
  avgDocLength: number;
  /** Query terms per analyzer of the searched entities (df over that analyzer's entities). */
  terms: { term: string; df: number; idf: number; analyzer: Analyzer }[];
}

/**
 * How the keyword top-k was found (keywordTopK): rounds, postings per group
 * in the last round, documents seen, postings read against what the full sum
 * would read (the query terms' df summed), impact groups read and those
 * pruned, terms left unread as non-essential (MaxScore), terms read to
 * their end, (candidate, term) lookups and the lookup statements that read
 * a term in order instead of probing records (lookupScans), candidates
 * checked against `where`. proved is
 * always true: the top k is exact without a full sum.
 */
export interface KeywordPruning {
  rounds: number;
  depth: number;
  candidates: number;
  postingsRead: number;
  postingsTotal: number;
  groups: number;
  groupsPruned: number;
  termsNonEssential: number;
  termsReadWhole: number;
  lookedUp: number;
  lookupScans: number;
  filterChecked: number;
  /** Groups of block heads of the query terms (postings of bulk ingests, sql/000018/000019), all read. */
  blockGroups: number;
  /** Groups opened: their blocks' heads read. */
  blockGroupsOpened: number;
  /** Blocks whose heads were read. */
  blocks: number;
  /** Blocks whose postings were read (blockTopK). */
  blocksRead: number;
  /** Postings in the blocks read. */
  blockPostingsRead: number;
  /** Documents of the blocks scored exactly. */
  blockCandidates: number;
  /** Block documents checked to still count (not deleted or changed since; `where`). */
  blockChecked: number;
  proved: true;
}

export interface KeywordRetrieval {
  hits: RankedHit[];
  /** The statements that found the hits (for explain's plans); none when no query term is indexed. */
  queries: { text: string; values: unknown[] }[];
  /** Absent when the query has no terms. */
  bm25?: Bm25Explain;
  /** Absent when no query term is indexed. */
  pruning?: KeywordPruning;
}

export interface KeywordRequest {
  /** The query text. Required. */
  q: string;
  /** Entities searched (names), as one collection. Required. */
  entities: readonly string[];
  /** Hits wanted. Required. */
  k: number;
  /** The `where` filter (non-empty, checked against the entities), or undefined. */
  where: Readonly<Record<string, unknown>> | undefined;
  /** Gets the `keyword` step when hits were looked up. */
  timings: Timings;
}

/** An entity's analyzer and postings key, as search reads them. */
interface EntityKeys {
  name: string;
  analyzer: Analyzer;
  key: string;
}

/** One analyzer's share of a search: its entities, their postings keys, the query's terms under it. */
interface Group {
  analyzer: Analyzer;
  names: string[];
  keys: string[];
  terms: string[];
}

/** Times a search reads the entities' keys again after an analyzer switch, before it answers with what it read. */
const STALE_RETRIES = 3;

/**
 * BM25 over the keyword index: the statistics over the searched entities and
 * the first round of the exact top-k in one statement, then keywordTopK's
 * further rounds, with or without a `where` filter.
 *
 * Each entity's postings are analyzed by its own analyzer, so the query is
 * analyzed once per analyzer among the searched entities. The collection's
 * terms are then (analyzer, term) pairs: N and the average length are over
 * all searched documents (as with one analyzer), a term's df over the
 * documents of its analyzer's entities. A document's score involves its
 * own analyzer's terms alone, so the top k of the whole is the merge of the
 * exact top k of each analyzer's entities: one keyword top-k per analyzer.
 */
export class KeywordRetriever {
  /** Analyzer and postings key per entity, reused for a second; a switch seen by a statement reads them again (the `ck` check). */
  private readonly keys: (fresh?: boolean) => Promise<Map<string, EntityKeys>>;

  constructor(private readonly pool: pg.Pool) {
    this.keys = reuseFor(1000, async () => {
      const { rows } = await pool.query<EntityKeys>({ name: 'kdb_entity_keys', text: 'SELECT name, analyzer, coalesce(postings_key, name) AS key FROM kdb_entities' });
      return new Map(rows.map((r) => [r.name, r]));
    });
  }

  private async groups(q: string, entities: readonly string[], fresh: boolean): Promise<Group[]> {
    let known = await this.keys(fresh);
    if (entities.some((e) => !known.has(e))) known = await this.keys(true);
    const groups = new Map<Analyzer, Group>();
    for (const name of entities) {
      // An entity deleted meanwhile keeps its name as key: it has no postings left either way.
      const e = known.get(name) ?? { name, analyzer: 'simple' as const, key: name };
      let g = groups.get(e.analyzer);
      if (!g) groups.set(e.analyzer, (g = { analyzer: e.analyzer, names: [], keys: [], terms: [...new Set(analyzerOf(e.analyzer)(q))] }));
      g.names.push(name);
      g.keys.push(e.key);
    }
    return [...groups.values()];
  }

  async retrieve(req: KeywordRequest): Promise<KeywordRetrieval> {
    const t = performance.now();
    let out: KeywordRetrieval | 'stale' = 'stale';
    for (let attempt = 0; attempt <= STALE_RETRIES && out === 'stale'; attempt++) {
      const groups = await this.groups(req.q, req.entities, attempt > 0);
      const parts = await Promise.all(groups.map((g) => this.retrieveGroup(req, g, attempt === STALE_RETRIES)));
      out = parts.includes('stale') ? 'stale' : merge(parts as KeywordRetrieval[], req.k);
    }
    if (out === 'stale') throw new Error('unreachable: the last attempt accepts what it read');
    if (out.hits.length || out.queries.length) req.timings.lap('keyword', t);
    return out;
  }

  /** The keyword top-k over one analyzer's entities; 'stale' when one of their postings keys changed since they were read. */
  private async retrieveGroup({ entities, k, where }: KeywordRequest, g: Group, last: boolean): Promise<KeywordRetrieval | 'stale'> {
    const { terms } = g;
    if (terms.length === 0) return { hits: [], queries: [] };
    const scope = { names: entities, keys: g.keys, keyNames: g.names };
    // The statistics come with the first round of the keyword top-k, in one
    // statement (docs/decisions/bm25-statistics-in-first-statement.md).
    const first = await readStatsAndHeads(this.pool, { scope, terms, k });
    const counts = first;
    if (counts.stale && !last) return 'stale';
    const n = counts.documents;
    const avgdl = n ? counts.totalLength / n : 0;
    const stats = terms.map((term) => {
      const d = counts.df.get(term) ?? 0;
      return { term, df: d, idf: bm25Idf(n, d) };
    });
    const bm25: Bm25Explain = { k1: BM25_K1, b: BM25_B, documents: n, avgDocLength: avgdl, terms: stats.map((s) => ({ ...s, analyzer: g.analyzer })) };
    const present = stats.filter((s) => s.df > 0);
    if (present.length === 0 || avgdl === 0) return { hits: [], queries: [], bm25 };
    const { hits: found, rows: top, blocks } = await keywordTopKAllLayouts(this.pool, {
      entities: g.keys,
      terms: present,
      k,
      k1: BM25_K1,
      b: BM25_B,
      avgdl,
      firstRound: first.heads,
      firstRoundQuery: first.query,
      firstGroups: { groups: first.groups, query: first.query },
      where,
    });
    const pruning: KeywordPruning = {
      rounds: top.rounds,
      depth: top.depth,
      candidates: top.candidates,
      postingsRead: top.postingsRead,
      postingsTotal: present.reduce((sum, x) => sum + x.df, 0),
      groups: top.groups,
      groupsPruned: top.groupsPruned,
      termsNonEssential: top.termsNonEssential,
      termsReadWhole: top.termsReadWhole,
      lookedUp: top.lookedUp,
      lookupScans: top.lookupScans,
      filterChecked: top.filterChecked,
      blockGroups: blocks.groups,
      blockGroupsOpened: blocks.groupsOpened,
      blocks: blocks.blocks,
      blocksRead: blocks.blocksRead,
      blockPostingsRead: blocks.blockPostingsRead,
      blockCandidates: blocks.candidates,
      blockChecked: blocks.verified,
      proved: true,
    };
    // Postings name their key; answers name the entity.
    const nameOf = new Map(g.keys.map((key, i) => [key, g.names[i]!]));
    // The blocks' first read is the statistics' statement (firstGroups): listed once.
    const queries = [...new Set([...top.queries, ...blocks.queries])];
    return { hits: found.map((r, i) => ({ id: r.id, entity: nameOf.get(r.entity) ?? r.entity, rank: i + 1, score: r.score })), queries, bm25, pruning };
  }
}

/** One analyzer's answer as is; several merged by score (then id) and cut at k, with their statistics and statements side by side. */
function merge(parts: readonly KeywordRetrieval[], k: number): KeywordRetrieval {
  if (parts.length === 1) return parts[0]!;
  const hits = parts
    .flatMap((p) => p.hits)
    .sort(byScoreThenId)
    .slice(0, k)
    .map((h, i) => ({ ...h, rank: i + 1 }));
  const queries = parts.flatMap((p) => p.queries);
  const withStats = parts.filter((p) => p.bm25);
  const bm25 = withStats.length
    ? { ...withStats[0]!.bm25!, terms: withStats.flatMap((p) => p.bm25!.terms) }
    : undefined;
  const pruned = parts.filter((p) => p.pruning);
  const pruning = pruned.length
    ? pruned.reduce<KeywordPruning>(
        (a, p) => ({
          rounds: Math.max(a.rounds, p.pruning!.rounds),
          depth: Math.max(a.depth, p.pruning!.depth),
          candidates: a.candidates + p.pruning!.candidates,
          postingsRead: a.postingsRead + p.pruning!.postingsRead,
          postingsTotal: a.postingsTotal + p.pruning!.postingsTotal,
          groups: a.groups + p.pruning!.groups,
          groupsPruned: a.groupsPruned + p.pruning!.groupsPruned,
          termsNonEssential: a.termsNonEssential + p.pruning!.termsNonEssential,
          termsReadWhole: a.termsReadWhole + p.pruning!.termsReadWhole,
          lookedUp: a.lookedUp + p.pruning!.lookedUp,
          lookupScans: a.lookupScans + p.pruning!.lookupScans,
          filterChecked: a.filterChecked + p.pruning!.filterChecked,
          blockGroups: a.blockGroups + p.pruning!.blockGroups,
          blockGroupsOpened: a.blockGroupsOpened + p.pruning!.blockGroupsOpened,
          blocks: a.blocks + p.pruning!.blocks,
          blocksRead: a.blocksRead + p.pruning!.blocksRead,
          blockPostingsRead: a.blockPostingsRead + p.pruning!.blockPostingsRead,
          blockCandidates: a.blockCandidates + p.pruning!.blockCandidates,
          blockChecked: a.blockChecked + p.pruning!.blockChecked,
          proved: true,
        }),
        { rounds: 0, depth: 0, candidates: 0, postingsRead: 0, postingsTotal: 0, groups: 0, groupsPruned: 0, termsNonEssential: 0, termsReadWhole: 0, lookedUp: 0, lookupScans: 0, filterChecked: 0, blockGroups: 0, blockGroupsOpened: 0, blocks: 0, blocksRead: 0, blockPostingsRead: 0, blockCandidates: 0, blockChecked: 0, proved: true },
      )
    : undefined;
  return { hits, queries, ...(bm25 ? { bm25 } : {}), ...(pruning ? { pruning } : {}) };
}
