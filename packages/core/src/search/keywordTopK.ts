import type pg from 'pg';
import { bm25Query, bm25StatisticsCtes, type Bm25Statistics, type StatisticsScope } from './bm25Statistics.js';
import { groupsOf, unpackGroups, type GroupHead } from '../store/postingsBlockStore.js';

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
  /** Terms in at most this many documents are read whole at once (no bound left to beat; docs/decisions/keyword-topk-full-read.md). Default 1024. */
  fullReadDf?: number;
  /** The first round's postings, already read by readStatsAndHeads (same k and fullReadDf). */
  firstRound?: readonly HeadRow[];
  /** The statement that read firstRound (for explain). */
  firstRoundQuery?: { text: string; values: unknown[] };
  /** Equality filter on record fields (`where`): only records whose data contains it are ranked. Default none. */
  where?: Readonly<Record<string, unknown>> | undefined;
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
  /** Exact top k: score descending, then id ascending. */
  hits: KeywordHit[];
  rounds: number;
  /** Postings per (entity, term, tf) group the last round asked for (terms read whole: all of theirs). */
  depth: number;
  /** Documents seen in the postings read. */
  candidates: number;
  /** Postings read from the impact index, over all rounds (the full sum reads the query terms' df). */
  postingsRead: number;
  /** (entity, term, tf) groups read, the blocks of the impact order. */
  groups: number;
  /** Groups left unread once no unseen document of theirs could reach the top k (their frontier plus every other term's bound below the k-th score). */
  groupsPruned: number;
  /** Query terms the last round did not read (non-essential: together they cannot reach the k-th score; only looked up for candidates). */
  termsNonEssential: number;
  /** Query terms whose every posting was read. */
  termsReadWhole: number;
  /** Lookups of a term for a candidate, over all rounds: one term at a time, rarest first, for the candidates that can still reach the top k (the rest were exact already or fell below). */
  lookedUp: number;
  /** Lookup statements that read the term's postings in order against the candidates instead of probing each record (many candidates for the term's df). */
  lookupScans: number;
  /** Candidates checked against `where`, over all rounds (0 without a filter). */
  filterChecked: number;
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
  SELECT NULL::text AS entity, d.term, d.df AS tf, NULL::uuid AS id, NULL::int AS doc_len, st.n, st.len, ck.cur, NULL::bytea AS packed
    FROM st CROSS JOIN ck LEFT JOIN d ON true
  UNION ALL
  SELECT heads.*, NULL, NULL, NULL, NULL FROM (${headsOf('q')}) heads
  UNION ALL
  SELECT g.entity, g.term, NULL, NULL, NULL, NULL, NULL, NULL, g.packed FROM (${groupsOf('$1', '$2')}) g`;

export interface StatsAndHeads extends Bm25Statistics {
  /** keywordTopK's first round for these terms at this k. */
  heads: HeadRow[];
  /** blockTopK's first read: the heads of the terms' groups of postings blocks (every term asked, df 0 or not). */
  groups: GroupHead[];
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
  const { rows } = await db.query<HeadRow & { id: string | null; n: number | null; len: number | null; cur: number | null; packed: Buffer | null }>({ name: 'kdb_keyword_stats_heads', ...query });
  let documents = 0;
  let totalLength = 0;
  let stale = false;
  const df = new Map(opts.terms.map((t) => [t, 0]));
  const heads: HeadRow[] = [];
  const packed: { entity: string; term: string; packed: Buffer }[] = [];
  for (const r of rows) {
    if (r.id !== null) heads.push(r);
    else if (r.packed !== null) packed.push({ entity: r.entity, term: r.term, packed: r.packed });
    else {
      documents = Number(r.n);
      totalLength = Number(r.len);
      stale = Number(r.cur) !== scope.keys.length;
      if (r.term !== null) df.set(r.term, r.tf);
    }
  }
  return { documents, totalLength, df, stale, heads, groups: unpackGroups(packed), query };
}

/**
 * The next postings of open (entity, term, tf) groups, each from its
 * frontier (the first posting not yet used, read again as this round's
 * first) in (doc_len, record_id) order: a keyset range scan each on
 * kdb_postings_impact_idx, so a deeper round never reads again what an
 * earlier one used.
 */
const NEXT_SQL = `
  SELECT c.entity, c.term, c.tf, h.record_id AS id, h.doc_len
    FROM unnest($1::text[], $2::text[], $3::int[], $4::int[], $5::uuid[], $6::int[], $7::int[]) AS c(entity, term, tf, len, id, lim, max_len)
   CROSS JOIN LATERAL (SELECT p.record_id, p.doc_len FROM kdb_postings p
                        WHERE p.entity = c.entity AND p.term = c.term AND p.tf = c.tf
                          AND (p.doc_len, p.record_id) >= (c.len, c.id) AND p.doc_len <= c.max_len
                        ORDER BY p.doc_len, p.record_id LIMIT c.lim) h`;

/**
 * All postings of the candidates for the query terms under the searched
 * postings keys (index-only on kdb_postings_record_idx): during an analyzer
 * rebuild a record also has postings under the next key, which must not count.
 * The key test is kept out of index conditions (`IS TRUE`): statistics
 * analyzed before an entity existed put its postings at a handful, and the
 * planner then scanned all of them on kdb_postings_impact_idx for each lookup.
 */
const POSTINGS_SQL = `
  SELECT p.record_id AS id, p.tf, p.doc_len
    FROM kdb_postings p
   WHERE p.record_id = ANY($1::uuid[]) AND p.term = ANY($2::text[]) AND (p.entity = ANY($3::text[])) IS TRUE`;

const TERM_POSTINGS_SQL = `
  SELECT p.record_id AS id, p.tf, p.doc_len
    FROM kdb_postings p
   WHERE p.entity = ANY($3::text[]) AND p.term = $2 AND (p.record_id = ANY($1::uuid[])) IS TRUE`;

/** The candidates whose record matches the `where` filter (primary key lookups). */
const FILTER_SQL = `SELECT r.id FROM kdb_records r WHERE r.id = ANY($1::uuid[]) AND r.data @> $2::jsonb`;

/**
 * Bounds are compared with this margin, relative to the score (and at least
 * absolute): two sums of the same weights in another order differ by a few
 * ulps, so a score within it of a bound is treated as a tie, never as below.
 */
const TOLERANCE = 1e-9;
/**
 * A term's postings are read whole for a lookup when they are at most this many per candidate:
 * a probe by record costs as much as reading some dozens of a term's postings in order
 * (docs/decisions/keyword-topk-cut-read.md).
 */
const SCAN_RATIO = 64;
/** A round reading to a cut has no depth limit (the cut bounds it). */
const UNLIMITED = 1_000_000_000;
const MAX_INT = 2_147_483_647;
/** The smallest uuid: a cut frontier sorts before every posting of its doc_len. */
const LEAST_ID = '00000000-0000-0000-0000-000000000000';
const tol = (x: number) => TOLERANCE * Math.max(1, Math.abs(x));

/** Score descending, then id ascending (scores within 1e-12 count as equal: float noise of the sum). */
export function byScoreThenId(x: KeywordHit, y: KeywordHit): number {
  if (Math.abs(x.score - y.score) > 1e-12) return y.score - x.score;
  return x.id < y.id ? -1 : x.id > y.id ? 1 : 0;
}

interface Group {
  entity: string;
  term: string;
  tf: number;
  ti: number;
  /** The first posting not used yet; null once the group is read to its end. */
  frontier: HeadRow | null;
  /** No unseen document of this group can reach the top k any more: never read again. */
  pruned: boolean;
  /** The next round reads this group up to this doc_len (its postings past it weigh less than the cut); undefined: by depth. */
  maxLen?: number | undefined;
}

interface Seen {
  entity: string;
  /** The document's length (every posting of a document carries it). */
  len: number;
  /** Weight per query term, 0 where the document does not hold it (or it is not known yet). */
  w: Float64Array;
  /** Per query term: 1 once the weight is known (read, looked up, or the term read whole). */
  known: Uint8Array;
  /** The `where` filter: undefined until checked. */
  passes: boolean | undefined;
}

/**
 * Exact BM25 top-k by a threshold algorithm (Fagin's TA) over
 * impact-ordered postings, at any document frequency, with or without a
 * `where` filter.
 *
 * Within one (entity, term, tf) group a posting's BM25 weight only falls as
 * doc_len grows, so each group read in (doc_len, record_id) order is sorted
 * best first and its first unread posting bounds every unread one, whatever
 * the average length. A round reads the next postings of every open group
 * from its frontier (keyset, nothing read twice), scores exactly the
 * documents that can still reach the top k (their other terms looked up by
 * record), and stops when the k-th score beats the best score any unseen
 * document could reach: the sum over terms of the best frontier weight. A
 * seen document's unknown terms are bounded by the same frontiers, so one
 * that cannot reach the k-th is never looked up. Otherwise the depth grows
 * fourfold, and a term whose remaining postings are no more than the next
 * depth is read to its end at once, so the work never exceeds one read of the
 * query terms' postings plus the lookups: there is no fallback to a full sum.
 *
 * Two prunings keep multi-term queries from reading common terms deep
 * (MaxScore and a per-group form of it, with θ the proved k-th score):
 * - a term is non-essential while it and the terms of smaller bound sum to
 *   less than θ: a document unseen in every other term cannot reach the top
 *   k through them, so those terms are not read further, only looked up for
 *   candidates; their frontier still bounds the documents not seen;
 * - a group is pruned once its frontier weight plus every other term's
 *   bound (over groups not pruned) is below θ: an unseen document of that
 *   group, bounded in the others by their frontiers, cannot reach θ. θ only
 *   rises and bounds only fall, so the proof holds for good: of an unseen
 *   document's groups, the first pruned was pruned while the others were
 *   counted in the bound. The stop test then sums the bounds of groups not
 *   pruned; seen documents keep the bounds of every group.
 *
 * On a tie with the bound, an unseen document ties only by sitting at or
 * after the frontier of every term's group, so it ranks after the k-th when
 * the k-th's id is smaller than those frontier ids (ids break ties, as in the
 * full sum). Ties are judged within a relative margin (TOLERANCE), never by
 * exact float equality, so a document whose score differs from the k-th's by
 * rounding alone is never dropped.
 *
 * Three more keep multi-term queries from growing with the rarer terms' df
 * (docs/decisions/keyword-topk-cut-read.md):
 * - a seen document's bound in a term it was not seen in is its own: only
 *   groups whose frontier it sorts at or after can hold it, at the group's tf
 *   and its own length;
 * - lookups go one term at a time, rarest first, each for the candidates
 *   still reaching the floor the last one raised; a term with few postings
 *   per candidate is read in order against them instead of probed by record;
 * - after a round with θ proved, each essential term's groups are read, with
 *   no depth limit, up to the doc_len below which their weight stays at
 *   least θ less the other terms' bounds (the cut): every unseen document
 *   that can reach θ is there, so the round after it usually stops. The
 *   group's frontier then is that doc_len plus one, a bound of what follows
 *   whatever the cut was.
 *
 * With `where`, a candidate counts only once its record is known to match
 * (checked in one statement per round, for those that can still reach the
 * top k); unseen documents are bounded as before, so the answer is exact; a
 * selective filter makes the read deeper, never inexact.
 */
export async function keywordTopK(db: pg.Pool | pg.ClientBase, opts: KeywordTopKOptions): Promise<KeywordTopK> {
  const { k, k1, b, avgdl } = opts;
  const { terms, idfs, T, termIndex, weight } = bm25Query(opts);
  const frontierWeight = (g: Group) => weight(g.ti, g.frontier!.tf, g.frontier!.doc_len);
  const fullReadDf = opts.fullReadDf ?? DEFAULT_FULL_READ_DF;
  const whereJson = opts.where ? JSON.stringify(opts.where) : undefined;
  const df = opts.terms.map((t) => t.df);
  const read = new Array<number>(T).fill(0); // postings used per term
  const closed = new Array<boolean>(T).fill(false); // every posting of the term used
  const groups = new Map<string, Group>();
  const seen = new Map<string, Seen>();
  let depth = firstDepth(k);
  let rounds = 0;
  let postingsRead = 0;
  let lookedUp = 0;
  let lookupScans = 0;
  let filterChecked = 0;
  // Terms read in the coming round (all in the first; MaxScore's essential terms after it).
  let essential = new Array<boolean>(T).fill(true);
  // Terms the coming round reads to a cut instead of by depth.
  const cutTerm = new Array<boolean>(T).fill(false);
  const keyOf = (x: { entity: string; term: string; tf: number }) => `${x.entity}\u0000${x.term}\u0000${x.tf}`;
  const cutFrontier = (g: Group): HeadRow => ({ entity: g.entity, term: g.term, tf: g.tf, id: LEAST_ID, doc_len: g.maxLen! + 1 });
  // Postings to use per group this round: terms read whole take all (df bounds any group).
  const useOf = (ti: number) => {
    const d = df[ti];
    if (d === undefined) return depth;
    if (rounds === 1 && d <= fullReadDf) return fullReadDf;
    return d - read[ti]! <= depth ? Math.max(d, 1) : depth;
  };
  // Per term: the best weight of a document no term has shown yet (frontiers of groups not pruned), with the frontier ids reaching it.
  const unseenBounds = () => {
    const bound = new Float64Array(T);
    const ids: string[][] = terms.map(() => []);
    for (const g of groups.values()) {
      if (!g.frontier || g.pruned) continue;
      const w = frontierWeight(g);
      const cur = bound[g.ti]!;
      if (ids[g.ti]!.length === 0 || w > cur + tol(cur)) {
        bound[g.ti] = w;
        ids[g.ti] = [g.frontier.id];
      } else if (Math.abs(w - cur) <= tol(cur)) ids[g.ti]!.push(g.frontier.id);
    }
    return { bound, ids };
  };
  for (;;) {
    rounds++;
    const use = terms.map((_, ti) => (cutTerm[ti] ? UNLIMITED : useOf(ti)));
    let readQuery: { text: string; values: unknown[] };
    let open: Group[] = [];
    let rows: readonly HeadRow[];
    if (rounds === 1) {
      readQuery = opts.firstRound && opts.firstRoundQuery ? opts.firstRoundQuery : { text: HEADS_SQL, values: [opts.entities, terms, use.map((u) => u + 1)] };
      rows = opts.firstRound ?? (await db.query<HeadRow>({ name: 'kdb_keyword_heads', ...readQuery })).rows;
    } else {
      // A group whose frontier is already past its cut has nothing to give this round.
      open = [...groups.values()].filter((g) => g.frontier !== null && !g.pruned && essential[g.ti] && !(g.maxLen !== undefined && g.maxLen < g.frontier.doc_len));
      // Every cut already passed (bounds equal to the cut within rounding): read on by depth, so each round gets further.
      if (!open.length && cutTerm.some(Boolean)) {
        cutTerm.fill(false);
        for (const g of groups.values()) g.maxLen = undefined;
        for (let ti = 0; ti < T; ti++) use[ti] = useOf(ti);
        open = [...groups.values()].filter((g) => g.frontier !== null && !g.pruned && essential[g.ti]);
      }
      readQuery = {
        text: NEXT_SQL,
        values: [
          open.map((g) => g.entity),
          open.map((g) => g.term),
          open.map((g) => g.tf),
          open.map((g) => g.frontier!.doc_len),
          open.map((g) => g.frontier!.id),
          open.map((g) => Math.min(use[g.ti]! + 1, UNLIMITED)),
          open.map((g) => g.maxLen ?? MAX_INT),
        ],
      };
      rows = (await db.query<HeadRow>({ name: 'kdb_keyword_next_cut', ...readQuery })).rows;
    }
    postingsRead += rows.length;
    const byGroup = new Map<string, HeadRow[]>();
    for (const r of rows) {
      const key = keyOf(r);
      const g = byGroup.get(key);
      if (g) g.push(r);
      else byGroup.set(key, [r]);
    }
    // Groups asked for that answered nothing: their frontier was deleted meanwhile and nothing follows.
    // Read to a cut: nothing up to it any more, what follows weighs less than the cut.
    for (const g of open) if (!byGroup.has(keyOf(g))) g.frontier = g.maxLen === undefined ? null : cutFrontier(g);
    for (const [key, list] of byGroup) {
      list.sort((x, y) => x.doc_len - y.doc_len || (x.id < y.id ? -1 : x.id > y.id ? 1 : 0));
      const ti = termIndex.get(list[0]!.term)!;
      let g = groups.get(key);
      if (!g) groups.set(key, (g = { entity: list[0]!.entity, term: list[0]!.term, tf: list[0]!.tf, ti, frontier: null, pruned: false }));
      const n = use[ti]!;
      const used = list.length > n ? list.slice(0, n) : list;
      for (const r of used) {
        let s = seen.get(r.id);
        if (!s) {
          seen.set(r.id, (s = { entity: r.entity, len: r.doc_len, w: new Float64Array(T), known: new Uint8Array(T), passes: undefined }));
          // A term read to its end before: absent from this document.
          for (let tj = 0; tj < T; tj++) if (closed[tj]) s.known[tj] = 1;
        }
        s.w[ti] = weight(ti, r.tf, r.doc_len);
        s.known[ti] = 1;
      }
      read[ti]! += used.length;
      // Read to a cut: the postings past it start after its doc_len (a bound, not a posting read).
      g.frontier = list[n] ?? (g.maxLen === undefined || rounds === 1 ? null : cutFrontier(g));
    }
    // Per term: the best weight an unread posting can have (of a seen document), and of a document
    // no term has shown yet (groups not pruned), with the frontier ids reaching it.
    const bound = new Float64Array(T);
    const openTerm = new Array<boolean>(T).fill(false);
    for (const g of groups.values()) {
      if (!g.frontier) continue;
      openTerm[g.ti] = true;
      bound[g.ti] = Math.max(bound[g.ti]!, frontierWeight(g));
    }
    // A term read to its end is known for every document: absent where not seen.
    for (let ti = 0; ti < T; ti++) {
      if (openTerm[ti] || closed[ti]) continue;
      closed[ti] = true;
      for (const s of seen.values()) s.known[ti] = 1;
    }
    // Known weights summed in query-term order (so equal documents get bit-equal scores).
    const lower = (s: Seen) => {
      let x = 0;
      for (let ti = 0; ti < T; ti++) x += s.w[ti]!;
      return x;
    };
    // Per term, the groups still open, highest tf first: a seen document's bound in a term it was
    // not seen in (docBound).
    const openGroups: Group[][] = terms.map(() => []);
    for (const g of groups.values()) if (g.frontier) openGroups[g.ti]!.push(g);
    for (const list of openGroups) list.sort((x, y) => y.tf - x.tf);
    const upper = (s: Seen, id: string) => {
      let x = lower(s);
      for (let ti = 0; ti < T; ti++) if (!s.known[ti]) x += docBound(ti, s, id);
      return x;
    };
    // A seen document not seen in a group read in (doc_len, record_id) order up to its frontier is
    // in it only if it sorts at or after that frontier, and there it weighs the group's tf at its
    // own length: the best such group bounds the document's weight in the term.
    const docBound = (ti: number, s: Seen, id: string) => {
      for (const g of openGroups[ti]!) {
        const f = g.frontier!;
        if (s.len > f.doc_len || (s.len === f.doc_len && id >= f.id)) return weight(ti, g.tf, s.len);
      }
      return 0;
    };
    const exact = (s: Seen) => {
      for (let ti = 0; ti < T; ti++) if (!s.known[ti]) return false;
      return true;
    };
    // The k-th best lower bound among documents known to count: the k-th best score is at least this.
    const kthLower = () => {
      const lows = new Float64Array(seen.size);
      let m = 0;
      for (const s of seen.values()) if (s.passes !== false && (!whereJson || s.passes)) lows[m++] = lower(s);
      // A typed array sorts numerically, ascending, several times faster than an array of numbers.
      return m >= k ? lows.subarray(0, m).sort()[m - k]! : -Infinity;
    };
    const reach = (s: Seen, id: string, floor: number) => s.passes !== false && upper(s, id) >= floor - tol(floor);
    let floor = kthLower();
    const queries = [readQuery];
    if (whereJson) {
      const check = [...seen.entries()].filter(([id, s]) => s.passes === undefined && reach(s, id, floor)).map(([id]) => id);
      if (check.length) {
        const filter = { text: FILTER_SQL, values: [check, whereJson] as unknown[] };
        const { rows: pass } = await db.query<{ id: string }>({ name: 'kdb_keyword_filter', ...filter });
        for (const id of check) seen.get(id)!.passes = false;
        for (const r of pass) seen.get(r.id)!.passes = true;
        filterChecked += check.length;
        queries.push(filter);
        floor = kthLower();
      }
    }
    // Those that can still reach the top k with terms not known yet: look up one open term at a
    // time, rarest (heaviest) first, and only for those still reaching the floor it raised.
    const lookUp = async (ids: string[], ti: number) => {
      // A few candidates: probe each by record; many against the term's postings: read the term once.
      const scan = df[ti] !== undefined && df[ti]! <= ids.length * SCAN_RATIO;
      const postings = scan
        ? { text: TERM_POSTINGS_SQL, values: [ids, terms[ti], opts.entities] as unknown[] }
        : { text: POSTINGS_SQL, values: [ids, [terms[ti]], opts.entities] as unknown[] };
      // Neither is a named (prepared) statement: a generic plan tests the term scan's postings
      // against the ids one by one (a custom plan hashes them, a constant to it), and probes
      // read every posting of each record, filtering the term after.
      const found = await db.query<{ id: string; tf: number; doc_len: number }>(postings);
      for (const id of ids) seen.get(id)!.known[ti] = 1;
      for (const p of found.rows) seen.get(p.id)!.w[ti] = weight(ti, p.tf, p.doc_len);
      lookedUp += ids.length;
      if (scan) lookupScans++;
      queries.push(postings);
    };
    const byIdf = [...terms.keys()].filter((ti) => !closed[ti]).sort((x, y) => idfs[y]! - idfs[x]!);
    for (const ti of byIdf) {
      const ids = [...seen.entries()].filter(([id, s]) => !s.known[ti] && reach(s, id, floor)).map(([id]) => id);
      if (!ids.length) continue;
      await lookUp(ids, ti);
      floor = kthLower();
    }
    // Every document that can still reach the top k and counts is exact now.
    const ranked: KeywordHit[] = [];
    for (const [id, s] of seen) if (s.passes !== false && (!whereJson || s.passes) && exact(s) && reach(s, id, floor)) ranked.push({ id, entity: s.entity, score: lower(s) });
    ranked.sort(byScoreThenId);
    // θ: the k-th score is proved at least this. Groups that no unseen document can reach θ through are pruned.
    const theta = ranked.length >= k ? ranked[k - 1]!.score : -Infinity;
    let unseen = unseenBounds();
    if (theta > 0) {
      let sum = 0;
      for (let ti = 0; ti < T; ti++) sum += unseen.bound[ti]!;
      // One snapshot of the bounds for every group: each pruned group counted the others' frontiers.
      for (const g of groups.values()) if (g.frontier && !g.pruned && frontierWeight(g) + sum - unseen.bound[g.ti]! < theta - tol(theta)) g.pruned = true;
      unseen = unseenBounds();
    }
    const exhausted = unseen.bound.every((x, ti) => x === 0 && unseen.ids[ti]!.length === 0);
    const done = (): boolean => {
      if (exhausted) return true;
      if (ranked.length < k) return false;
      let ub = 0;
      for (let ti = 0; ti < T; ti++) ub += unseen.bound[ti]!;
      const kth = ranked[k - 1]!;
      if (kth.score > ub + tol(ub)) return true;
      if (kth.score < ub - tol(ub)) return false;
      // Tie with the bound: an unseen document reaching it sits at or after the frontier of every term.
      let idFloor = '';
      for (let ti = 0; ti < T; ti++) {
        if (unseen.ids[ti]!.length === 0 || unseen.bound[ti]! <= tol(0)) continue;
        const least = unseen.ids[ti]!.reduce((a, c) => (c < a ? c : a));
        if (least > idFloor) idFloor = least;
      }
      return kth.id < idFloor;
    };
    if (done()) {
      return {
        hits: ranked.slice(0, k),
        rounds,
        depth: Math.max(0, ...use.filter((u) => u < UNLIMITED)),
        candidates: seen.size,
        postingsRead,
        groups: groups.size,
        groupsPruned: [...groups.values()].filter((g) => g.pruned).length,
        termsNonEssential: essential.filter((e, ti) => !e && openTerm[ti]).length,
        termsReadWhole: closed.filter(Boolean).length,
        lookedUp,
        lookupScans,
        filterChecked,
        queries,
      };
    }
    // MaxScore: the terms of smallest bound that together cannot reach θ are not read on.
    const order = [...unseen.bound.keys()].sort((x, y) => unseen.bound[x]! - unseen.bound[y]!);
    essential = new Array<boolean>(T).fill(true);
    let prefix = 0;
    for (const ti of order) {
      prefix += unseen.bound[ti]!;
      if (!(prefix < theta - tol(theta))) break;
      essential[ti] = false;
    }
    // The cut: with θ proved, an unseen document reaching it weighs in each essential term at
    // least θ less every other term's bound. The next round reads each such group up to the
    // doc_len where its weight falls below that, whatever the depth, and so proves the top k in
    // one round unless θ rises or bounds fall (docs/decisions/keyword-topk-cut-read.md).
    cutTerm.fill(false);
    for (const g of groups.values()) g.maxLen = undefined;
    // One term: depth rounds raise θ as they read, a cut from the first θ reads more (bench:keyword's common queries).
    if (theta > 0 && b > 0 && T > 1) {
      let sum = 0;
      for (let ti = 0; ti < T; ti++) sum += unseen.bound[ti]!;
      for (let ti = 0; ti < T; ti++) {
        const cut = theta - tol(theta) - (sum - unseen.bound[ti]!);
        cutTerm[ti] = essential[ti]! && cut > 0;
      }
      for (const g of groups.values()) {
        if (!cutTerm[g.ti] || !g.frontier || g.pruned) continue;
        const cut = theta - tol(theta) - (sum - unseen.bound[g.ti]!);
        // weight(tf, len) ≥ cut ⇔ len ≤ (idf·tf·(k1+1)/cut − tf − k1(1−b))·avgdl/(k1·b); one past it for rounding.
        const x = ((idfs[g.ti]! * g.tf * (k1 + 1)) / cut - g.tf - k1 * (1 - b)) * (avgdl / (k1 * b));
        g.maxLen = x < 0 ? -1 : Math.min(MAX_INT - 1, Math.floor(x) + 1);
      }
    }
    depth *= 4;
  }
}
