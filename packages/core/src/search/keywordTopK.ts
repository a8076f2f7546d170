import type pg from 'pg';
import { bm25StatisticsCtes, type Bm25Statistics, type StatisticsScope } from './bm25Statistics.js';

export interface KeywordTerm {
  term: string;
  idf: number;
  /** Documents holding the term (over the searched entities): a term this rare is read whole in the first round. */
  df?: number;
}

export interface KeywordTopKOptions {
  /** Postings keys searched, as one collection (entities of one analyzer; sql/000011). Required. */
  entities: readonly string[];
  /** Query terms some document holds, with their idf. Required. */
  terms: readonly KeywordTerm[];
  /** Hits wanted. Required. */
  k: number;
  /** BM25 k1 (BM25_K1 in the engine). Required. */
  k1: number;
  /** BM25 b (BM25_B in the engine). Required. */
  b: number;
  /** Average document length over the searched entities. Required. */
  avgdl: number;
  /** Deepest read per (entity, term, tf) group before giving up on pruning. Default 4096. */
  maxDepth?: number;
  /** Terms in at most this many documents are read whole at once (no bound left to beat; docs/decisions/keyword-topk-full-read.md). Default 1024. */
  fullReadDf?: number;
  /** The first round's postings, already read by readStatsAndHeads (same k and fullReadDf). */
  firstRound?: readonly HeadRow[];
  /** The statement that read firstRound (for explain). */
  firstRoundQuery?: { text: string; values: unknown[] };
}

export interface HeadRow {
  entity: string;
  term: string;
  tf: number;
  id: string;
  doc_len: number;
}

export interface KeywordHit {
  id: string;
  entity: string;
  score: number;
}

export interface KeywordTopK {
  /** Exact top k (score desc, id asc), or null when pruning could not prove it within maxDepth: run the full sum. */
  hits: KeywordHit[] | null;
  rounds: number;
  depth: number;
  candidates: number;
  /** Candidates of the last round whose other terms' postings were looked up (the rest were exact already or could not reach the top k). */
  lookedUp: number;
  /** The statements of the last round, for explain. */
  queries: { text: string; values: unknown[] }[];
}

/**
 * The first `lim` postings of every (entity, term, tf) group, for the (term,
 * lim) rows of `terms`, in (doc_len, record_id) order: an index range scan
 * each on kdb_postings_impact_idx. Groups run 1..max(tf) (one backward probe).
 */
const headsOf = (terms: string) => `
  SELECT t.entity, t.term, g.tf, h.record_id AS id, h.doc_len
    FROM (SELECT e.entity, q.term, q.lim,
                 (SELECT max(p.tf) FROM kdb_postings p WHERE p.entity = e.entity AND p.term = q.term) AS max_tf
            FROM unnest($1::text[]) AS e(entity) CROSS JOIN ${terms}) t
   CROSS JOIN LATERAL generate_series(1, t.max_tf) AS g(tf)
   CROSS JOIN LATERAL (SELECT p.record_id, p.doc_len FROM kdb_postings p
                        WHERE p.entity = t.entity AND p.term = t.term AND p.tf = g.tf
                        ORDER BY p.doc_len, p.record_id LIMIT t.lim) h`;

/** A round of keywordTopK: `depth + 1` postings per group (the terms and limits as parameters). */
const HEADS_SQL = headsOf('unnest($2::text[], $3::int[]) AS q(term, lim)');

/** The first round's depth per (entity, term, tf) group. */
const firstDepth = (k: number) => Math.max(k, 16);
const DEFAULT_FULL_READ_DF = 1024;

/**
 * HEADS_SQL for the first round with the BM25 statistics in the same statement
 * (one round trip less, and statistics and postings from one snapshot): rows
 * with a null id carry N, the total length and one term's df; a term's read
 * depth follows its df as in keywordTopK.
 */
const STATS_HEADS_SQL = `
  WITH ${bm25StatisticsCtes({ names: '$5', keys: '$1', terms: '$2', checkNames: '$6', checkKeys: '$1' })},
       q AS (SELECT term, CASE WHEN df <= $3 THEN $3 + 1 ELSE $4 + 1 END AS lim FROM d WHERE df > 0)
  SELECT NULL::text AS entity, d.term, d.df AS tf, NULL::uuid AS id, NULL::int AS doc_len, st.n, st.len, ck.cur
    FROM st CROSS JOIN ck LEFT JOIN d ON true
  UNION ALL
  SELECT heads.*, NULL, NULL, NULL FROM (${headsOf('q')}) heads`;

export interface StatsAndHeads extends Bm25Statistics {
  /** keywordTopK's first round for these terms at this k. */
  heads: HeadRow[];
  query: { text: string; values: unknown[] };
}

/**
 * The BM25 statistics of `terms` over `scope` and the first round of
 * keywordTopK(k) over its postings keys, in one statement. `entities`
 * alone: entity names that are their own postings keys (no analyzer
 * change yet), searched as one collection.
 */
export async function readStatsAndHeads(
  db: pg.Pool | pg.ClientBase,
  opts: ({ scope: StatisticsScope } | { entities: readonly string[] }) & { terms: readonly string[]; k: number; fullReadDf?: number },
): Promise<StatsAndHeads> {
  const scope = 'scope' in opts ? opts.scope : { names: opts.entities, keys: opts.entities, keyNames: opts.entities };
  const query = { text: STATS_HEADS_SQL, values: [scope.keys, opts.terms, opts.fullReadDf ?? DEFAULT_FULL_READ_DF, firstDepth(opts.k), scope.names, scope.keyNames] as unknown[] };
  const { rows } = await db.query<HeadRow & { id: string | null; n: number | null; len: number | null; cur: number | null }>({ name: 'kdb_keyword_stats_heads', ...query });
  let documents = 0;
  let totalLength = 0;
  let stale = false;
  const df = new Map(opts.terms.map((t) => [t, 0]));
  const heads: HeadRow[] = [];
  for (const r of rows) {
    if (r.id !== null) heads.push(r);
    else {
      documents = Number(r.n);
      totalLength = Number(r.len);
      stale = Number(r.cur) !== scope.keys.length;
      if (r.term !== null) df.set(r.term, r.tf);
    }
  }
  return { documents, totalLength, df, stale, heads, query };
}

/**
 * All postings of the candidates for the query terms under the searched
 * postings keys (index-only on kdb_postings_record_idx): during an analyzer
 * rebuild a record also has postings under the next key, which must not count.
 */
const POSTINGS_SQL = `
  SELECT p.record_id AS id, p.term, p.tf, p.doc_len
    FROM kdb_postings p
   WHERE p.record_id = ANY($1::uuid[]) AND p.term = ANY($2::text[]) AND p.entity = ANY($3::text[])`;

const EPS = 1e-9;

/** Score descending, then id ascending (scores within 1e-12 count as equal: float noise of the sum). */
export function byScoreThenId(x: KeywordHit, y: KeywordHit): number {
  if (Math.abs(x.score - y.score) > 1e-12) return y.score - x.score;
  return x.id < y.id ? -1 : x.id > y.id ? 1 : 0;
}

/**
 * Exact BM25 top-k by a threshold algorithm (Fagin's TA) over
 * impact-ordered postings, without reading every posting of common terms.
 *
 * Within one (entity, term, tf) group a posting's BM25 weight only falls as
 * doc_len grows, so each group read in (doc_len, record_id) order is sorted
 * best first, and its first unread posting bounds every unread one. A round
 * reads `depth` postings per group, scores every document seen exactly (all
 * its query terms), and stops when the k-th score beats the best score any
 * unseen document could reach: the sum over terms of the best unread bound.
 * On a tie with that bound, an unseen document ties only by sitting at or
 * after the frontier of every term's group, so it ranks after the k-th when
 * the k-th's id is smaller than those frontier ids (ids break ties, as in the
 * full sum). Otherwise the depth grows fourfold; past `maxDepth` the caller
 * runs the full sum. Rare terms are read whole in the first round, and their
 * weights then come from that read, not from a second lookup. Scores use the same formula and statistics as the full
 * sum (equal up to float rounding of the sum order).
 */
export async function keywordTopK(db: pg.Pool | pg.ClientBase, opts: KeywordTopKOptions): Promise<KeywordTopK> {
  const { k, k1, b, avgdl } = opts;
  const idf = new Map(opts.terms.map((t) => [t.term, t.idf]));
  const terms = [...idf.keys()];
  const weight = (term: string, tf: number, len: number) => (idf.get(term)! * (tf * (k1 + 1))) / (tf + k1 * (1 - b + (b * len) / avgdl));
  const maxDepth = opts.maxDepth ?? 4096;
  const fullReadDf = opts.fullReadDf ?? DEFAULT_FULL_READ_DF;
  let depth = firstDepth(k);
  let rounds = 0;
  for (;;) {
    rounds++;
    // Per term: how many postings of each group to use; one more is read to see the frontier.
    const use = new Map(opts.terms.map((t) => [t.term, t.df !== undefined && t.df <= fullReadDf ? fullReadDf : depth]));
    const heads = { text: HEADS_SQL, values: [opts.entities, terms, terms.map((t) => use.get(t)! + 1)] as unknown[] };
    const rows = rounds === 1 && opts.firstRound ? opts.firstRound : (await db.query<HeadRow>({ name: 'kdb_keyword_heads', ...heads })).rows;
    const groups = new Map<string, HeadRow[]>();
    for (const r of rows) {
      const key = `${r.entity}\u0000${r.term}\u0000${r.tf}`;
      const g = groups.get(key);
      if (g) g.push(r);
      else groups.set(key, [r]);
    }
    // Per term: the best weight an unread posting can have, and the frontier ids reaching it.
    const bound = new Map<string, { w: number; ids: string[] }>();
    const entityOf = new Map<string, string>();
    const seen = new Map<string, number[]>(); // id → weight per query term, from the read postings
    const termIndex = new Map(terms.map((t, i) => [t, i]));
    // Per term: the best weight any of its postings has (the first posting of its best group).
    const maxWeight = new Array<number>(terms.length).fill(0);
    for (const g of groups.values()) {
      g.sort((x, y) => x.doc_len - y.doc_len || (x.id < y.id ? -1 : x.id > y.id ? 1 : 0));
      const n = use.get(g[0]!.term)!;
      const ti = termIndex.get(g[0]!.term)!;
      maxWeight[ti] = Math.max(maxWeight[ti]!, weight(g[0]!.term, g[0]!.tf, g[0]!.doc_len));
      for (const r of g.slice(0, n)) {
        entityOf.set(r.id, r.entity);
        let a = seen.get(r.id);
        if (!a) seen.set(r.id, (a = new Array<number>(terms.length).fill(0)));
        a[termIndex.get(r.term)!] = weight(r.term, r.tf, r.doc_len);
      }
      const frontier = g[n];
      if (!frontier) continue;
      const w = weight(frontier.term, frontier.tf, frontier.doc_len);
      const cur = bound.get(frontier.term);
      if (!cur || w > cur.w + EPS) bound.set(frontier.term, { w, ids: [frontier.id] });
      else if (Math.abs(w - cur.w) <= EPS) cur.ids.push(frontier.id);
    }
    const exhausted = bound.size === 0;
    const candidates = [...entityOf.keys()];
    // Terms read whole are known for every candidate; the others are looked up, but only for
    // candidates that can still reach the top k: a candidate's known weights are a lower bound
    // of its score, and adding the best weight of each open term it was not seen in gives an
    // upper bound. One below the k-th best lower bound ranks after the k-th whatever it holds.
    const open = terms.filter((t) => bound.has(t));
    const openIdx = open.map((t) => termIndex.get(t)!);
    // Known weights summed in query-term order (so equal documents get bit-equal scores).
    const lower = (id: string) => seen.get(id)!.reduce((s, w) => s + w, 0);
    const upper = (id: string) => {
      const a = seen.get(id)!;
      return openIdx.reduce((s, i) => s + (a[i] === 0 ? maxWeight[i]! : 0), lower(id));
    };
    const kthLower = candidates.length > k ? candidates.map(lower).sort((x, y) => y - x)[k - 1]! : -Infinity;
    const reachable = candidates.filter((id) => upper(id) >= kthLower - EPS);
    // Those with an open term not yet seen; the others' scores are already exact.
    const lookup = reachable.filter((id) => openIdx.some((i) => seen.get(id)![i] === 0));
    const postings = { text: POSTINGS_SQL, values: [lookup, open, opts.entities] as unknown[] };
    if (open.length && lookup.length) {
      const scored = await db.query<{ id: string; term: string; tf: number; doc_len: number }>({ name: 'kdb_keyword_postings', ...postings });
      for (const p of scored.rows) seen.get(p.id)![termIndex.get(p.term)!] = weight(p.term, p.tf, p.doc_len);
    }
    // After the lookup every reachable candidate's known weights are its exact score.
    const ranked = reachable
      .map((id) => ({ id, entity: entityOf.get(id)!, score: lower(id) }))
      .sort(byScoreThenId);
    const done = (): boolean => {
      if (exhausted) return true;
      if (ranked.length < k) return false;
      let ub = 0;
      for (const t of bound.values()) ub += t.w;
      const kth = ranked[k - 1]!;
      if (kth.score > ub + EPS) return true;
      if (kth.score < ub - EPS) return false;
      // Tie with the bound: an unseen document reaching it sits at or after the frontier of every term.
      let idFloor = '';
      for (const t of bound.values()) {
        if (t.w <= EPS) continue;
        const least = t.ids.reduce((a, c) => (c < a ? c : a));
        if (least > idFloor) idFloor = least;
      }
      return kth.id < idFloor;
    };
    const read = rounds === 1 && opts.firstRound && opts.firstRoundQuery ? opts.firstRoundQuery : heads;
    const queries = open.length && lookup.length ? [read, postings] : [read];
    if (done()) return { hits: ranked.slice(0, k), rounds, depth, candidates: candidates.length, lookedUp: lookup.length, queries };
    if (depth * 4 > maxDepth) return { hits: null, rounds, depth, candidates: candidates.length, lookedUp: lookup.length, queries };
    depth *= 4;
  }
}
