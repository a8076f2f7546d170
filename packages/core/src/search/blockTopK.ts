import type pg from 'pg';
import { blockKey, liveBlockDocs, readBlockBodies, readBlockHeads, type BlockPostings } from '../store/postingsBlockStore.js';
import { byScoreThenId, type KeywordHit } from './keywordTopK.js';
import { bm25Query } from './bm25Statistics.js';

export interface BlockTopKOptions {
  /** Postings keys searched, as one collection. Required. */
  entities: readonly string[];
  /** Query terms with their idf, in the order scores are summed (keywordTopK's). Required. */
  terms: readonly { term: string; idf: number }[];
  k: number;
  k1: number;
  b: number;
  avgdl: number;
  /** Equality filter on record fields: only records whose data contains it count. */
  where?: Readonly<Record<string, unknown>> | undefined;
}

export interface BlockTopK {
  /** Exact top k of the documents in blocks: score descending, then id ascending. */
  hits: KeywordHit[];
  rounds: number;
  /** Blocks of the query terms (their metadata is read whole). */
  blocks: number;
  /** Blocks whose postings were read. */
  blocksRead: number;
  /** Postings in the blocks read. */
  blockPostingsRead: number;
  /** Documents scored exactly (every query term's block over them read). */
  candidates: number;
  /** Candidates checked to still hold their number (and `where`). */
  verified: number;
  queries: { text: string; values: unknown[] }[];
}

/** As keywordTopK's: bounds are compared with a relative margin, so rounding alone never drops a document. */
const TOLERANCE = 1e-9;
const tol = (x: number) => TOLERANCE * Math.max(1, Math.abs(x));
/** Blocks read in the first round; each next round reads up to twice as many. */
const FIRST_READ = 8;
const MAX_READ = 1024;

/**
 * Exact BM25 top-k over the postings blocks (sql/000018): Block-Max
 * pruning on doc-number ranges.
 *
 * Every block's metadata (doc range, n, (tf, length) frontier, least id) is
 * read first. The doc-number axis is cut at every block boundary into
 * ranges; a range's bound sums, over the query terms, the best weight any
 * block of that term over the range can give (its frontier's best while
 * unread; the best of its postings in the range once read), except that the
 * terms whose blocks over the range are all read are summed per document:
 * the best posting of a rare term and of a mid one are mostly in different
 * documents, and a bound of their sum read nearly every block of the common
 * terms under them. Rounds take the ranges of highest bound and read, for
 * each, the unread block of greatest bound over it (a rare term's first:
 * its block spans many ranges and usually takes most below the k-th score),
 * score every document of a range once all its blocks are read (exactly: a
 * document's postings for a term are in that term's blocks over its number),
 * and check the candidates that can reach the top k against kdb_search (a
 * number whose document was deleted or changed text is dead) and `where`.
 * The search stops when no range's bound reaches the k-th checked score less
 * a rounding margin, so a document whose score ties the k-th within rounding
 * is always scored and its id decides. Work grows with the blocks that can
 * still reach the top k, not with the terms' document frequency; the heads
 * are read whole.
 */
export async function blockTopK(db: pg.Pool | pg.ClientBase, opts: BlockTopKOptions): Promise<BlockTopK> {
  const { k } = opts;
  const { terms, T, termIndex, weight } = bm25Query(opts);
  const where = opts.where ? JSON.stringify(opts.where) : undefined;
  const { heads, query: headsQuery } = await readBlockHeads(db, opts.entities, terms);
  const queries = [headsQuery];
  const empty: BlockTopK = { hits: [], rounds: 0, blocks: 0, blocksRead: 0, blockPostingsRead: 0, candidates: 0, verified: 0, queries };
  if (heads.length === 0 || k <= 0) return empty;

  const B = heads.length;
  const blockTerm = new Int32Array(B);
  const blockUb = new Float64Array(B);
  heads.forEach((h, i) => {
    const ti = (blockTerm[i] = termIndex.get(h.term)!);
    let best = 0;
    for (let j = 0; j < h.frontier.length; j += 2) best = Math.max(best, weight(ti, h.frontier[j]!, h.frontier[j + 1]!));
    blockUb[i] = best;
  });
  // Range r is [points[r], points[r+1]).
  const all = new Float64Array(2 * B);
  heads.forEach((h, i) => {
    all[2 * i] = h.first;
    all[2 * i + 1] = h.last + 1;
  });
  all.sort();
  const pts: number[] = [];
  for (const x of all) if (pts.length === 0 || pts[pts.length - 1] !== x) pts.push(x);
  const points = Float64Array.from(pts);
  const R = points.length - 1;
  const rangeOf = (doc: number) => {
    // The last point ≤ doc.
    let lo = 0;
    let hi = points.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (points[mid]! <= doc) lo = mid;
      else hi = mid - 1;
    }
    return lo;
  };
  // Per block its first and last range; per range the blocks over it (CSR).
  const spanLo = new Int32Array(B);
  const spanHi = new Int32Array(B);
  const coverCount = new Int32Array(R + 1);
  heads.forEach((h, i) => {
    spanLo[i] = rangeOf(h.first);
    spanHi[i] = rangeOf(h.last + 1) - 1;
    for (let r = spanLo[i]!; r <= spanHi[i]!; r++) coverCount[r + 1]!++;
  });
  for (let r = 0; r < R; r++) coverCount[r + 1]! += coverCount[r]!;
  const cover = new Int32Array(coverCount[R]!);
  const fill = coverCount.slice(0, R);
  for (let i = 0; i < B; i++) for (let r = spanLo[i]!; r <= spanHi[i]!; r++) cover[fill[r]!++] = i;

  // Read blocks: their postings and, per range of their span, their best weight there.
  const bodies = new Array<BlockPostings | null | undefined>(B);
  const bestIn = new Array<Float64Array | undefined>(B);
  const scratch = new Float64Array(T);
  // A range's bound: per term, the best weight its blocks over the range can give
  // (unread: the block's best; read: the best of its postings in the range). Where
  // every block of a term over the range is read, its weights are known per document,
  // so the bound is the best over the range's documents of those exact weights plus
  // the other terms' bests: two terms' best postings are mostly in different documents.
  // Summed in query-term order with each part no less than the document's, so its
  // float value is no less than any document's score.
  const exact = new Uint8Array(T);
  const readOver = new Int32Array(R);
  const cachedAt = new Int32Array(R).fill(-1);
  const cached = new Float64Array(R);
  const partial = new Map<number, Float64Array>();
  // Per range, the least score its best document seen can have (the weights known so
  // far): only to size a round's reads (below), never to prune, since a document may be
  // dead or filtered out.
  const rangeKnown = new Float64Array(R).fill(-Infinity);
  const rangeBound = (r: number) => {
    scratch.fill(0);
    exact.fill(1);
    let someRead = false;
    for (let c = coverCount[r]!; c < coverCount[r + 1]!; c++) {
      const i = cover[c]!;
      const ti = blockTerm[i]!;
      let w: number;
      if (bodies[i] === undefined) {
        exact[ti] = 0;
        w = blockUb[i]!;
      } else {
        someRead = true;
        w = bestIn[i]![r - spanLo[i]!]!;
      }
      if (w > scratch[ti]!) scratch[ti] = w;
    }
    let base = 0;
    for (let ti = 0; ti < T; ti++) base += exact[ti] ? 0 : scratch[ti]!;
    if (!someRead || exact.every((e) => !e)) {
      let x = 0;
      for (let ti = 0; ti < T; ti++) x += scratch[ti]!;
      return x;
    }
    if (cachedAt[r] === readOver[r]) return cached[r]!;
    const lo = points[r]!;
    const hi = points[r + 1]!;
    partial.clear();
    for (let c = coverCount[r]!; c < coverCount[r + 1]!; c++) {
      const i = cover[c]!;
      const p = bodies[i];
      const ti = blockTerm[i]!;
      if (!p || !exact[ti]) continue;
      for (let j = lowerBound(p.docs, lo); j < p.docs.length && p.docs[j]! < hi; j++) {
        let w = partial.get(p.docs[j]!);
        if (!w) partial.set(p.docs[j]!, (w = new Float64Array(T)));
        w[ti] = weight(ti, p.tfs[j]!, p.lens[j]!);
      }
    }
    let best = base;
    for (const w of partial.values()) {
      let x = 0;
      let known = 0;
      for (let ti = 0; ti < T; ti++) {
        x += exact[ti] ? w[ti]! : scratch[ti]!;
        if (exact[ti]) known += w[ti]!;
      }
      if (x > best) best = x;
      if (known > rangeKnown[r]!) rangeKnown[r] = known;
    }
    cachedAt[r] = readOver[r]!;
    cached[r] = best;
    return best;
  };
  const complete = (r: number) => {
    for (let c = coverCount[r]!; c < coverCount[r + 1]!; c++) if (bodies[cover[c]!] === undefined) return false;
    return true;
  };

  // The least record id a range's documents can have: the least of its blocks'.
  const rangeMinId: string[] = new Array<string>(R);
  for (let r = 0; r < R; r++) {
    let m = '';
    for (let c = coverCount[r]!; c < coverCount[r + 1]!; c++) {
      const id = heads[cover[c]!]!.min_id;
      if (m === '' || id < m) m = id;
    }
    rangeMinId[r] = m;
  }

  // Max-heap of (bound, range), equal bounds by least id first (ties go to the smaller id);
  // bounds only fall as blocks are read, so a stale top is pushed again with its new bound.
  const heapUb: number[] = [];
  const heapR: number[] = [];
  const above = (i: number, j: number) => heapUb[i]! > heapUb[j]! || (heapUb[i] === heapUb[j] && rangeMinId[heapR[i]!]! < rangeMinId[heapR[j]!]!);
  const swap = (i: number, j: number) => {
    [heapUb[i], heapUb[j]] = [heapUb[j]!, heapUb[i]!];
    [heapR[i], heapR[j]] = [heapR[j]!, heapR[i]!];
  };
  const push = (ub: number, r: number) => {
    let i = heapUb.push(ub) - 1;
    heapR.push(r);
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (!above(i, p)) break;
      swap(i, p);
      i = p;
    }
  };
  const pop = () => {
    const top = heapR[0]!;
    const lastUb = heapUb.pop()!;
    const lastR = heapR.pop()!;
    if (heapUb.length) {
      heapUb[0] = lastUb;
      heapR[0] = lastR;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        let m = i;
        if (l < heapUb.length && above(l, m)) m = l;
        if (l + 1 < heapUb.length && above(l + 1, m)) m = l + 1;
        if (m === i) break;
        swap(i, m);
        i = m;
      }
    }
    return top;
  };
  /** The best bound of a range not done yet (stale tops refreshed), or -Infinity. */
  const topBound = () => {
    while (heapUb.length) {
      const r = heapR[0]!;
      const now = rangeBound(r);
      if (now === heapUb[0]) return now;
      pop();
      push(now, r);
    }
    return -Infinity;
  };
  for (let r = 0; r < R; r++) if (coverCount[r + 1]! > coverCount[r]!) push(rangeBound(r), r);

  // Documents scored, waiting for their check; and those checked live, with their record id.
  let unverified: { docNo: number; key: string; score: number }[] = [];
  const live: KeywordHit[] = [];
  let theta = -Infinity;
  let candidates = 0;
  let verified = 0;
  let blocksRead = 0;
  let blockPostingsRead = 0;
  let rounds = 0;
  const scoreRange = (r: number) => {
    const lo = points[r]!;
    const hi = points[r + 1]!;
    const docs = new Map<number, { key: string; w: Float64Array }>();
    for (let c = coverCount[r]!; c < coverCount[r + 1]!; c++) {
      const i = cover[c]!;
      const p = bodies[i];
      if (!p) continue;
      const ti = blockTerm[i]!;
      for (let j = lowerBound(p.docs, lo); j < p.docs.length && p.docs[j]! < hi; j++) {
        let d = docs.get(p.docs[j]!);
        if (!d) docs.set(p.docs[j]!, (d = { key: heads[i]!.entity, w: new Float64Array(T) }));
        d.w[ti] = weight(ti, p.tfs[j]!, p.lens[j]!);
      }
    }
    for (const [docNo, d] of docs) {
      // Summed in query-term order, as keywordTopK does: equal documents get bit-equal scores.
      let score = 0;
      for (let ti = 0; ti < T; ti++) score += d.w[ti]!;
      candidates++;
      if (score > rangeKnown[r]!) rangeKnown[r] = score;
      if (score >= theta - tol(theta)) unverified.push({ docNo, key: d.key, score });
    }
  };
  const verify = async () => {
    let batch = Math.max(64, 2 * k);
    for (;;) {
      unverified = unverified.filter((c) => c.score >= theta - tol(theta));
      if (!unverified.length) return;
      unverified.sort((x, y) => y.score - x.score);
      const take = unverified.slice(0, batch);
      unverified = unverified.slice(batch);
      const { live: found, query } = await liveBlockDocs(db, take, where);
      queries.push(query);
      verified += take.length;
      for (const c of take) {
        const id = found.get(c.docNo);
        if (id !== undefined) live.push({ id, entity: c.key, score: c.score });
      }
      live.sort(byScoreThenId);
      if (live.length >= k) {
        theta = live[k - 1]!.score;
        // Keep what can still tie the k-th: ids decide among equal scores.
        let keep = k;
        while (keep < live.length && live[keep]!.score >= theta - tol(theta)) keep++;
        live.length = keep;
      }
      batch *= 2;
    }
  };

  /** No document of a range bounded by `ub` can rank above the k-th: its bound is below the k-th's score, or only ties it and every id of the range sorts after the k-th's. */
  const beaten = (ub: number, r: number) => {
    if (ub < theta - tol(theta)) return true;
    const kth = live.length >= k ? live[k - 1]! : undefined;
    // A float sum of weights no greater than the bound's, in the same order, is no greater than it.
    return kth !== undefined && ub - kth.score <= 1e-12 && rangeMinId[r]! > kth.id;
  };
  // Ranges set aside for tying the k-th with greater ids only: checked again against the final k-th.
  let parked: number[] = [];

  let budget = FIRST_READ;
  for (;;) {
    rounds++;
    const reread: number[] = [];
    const toRead = new Set<number>();
    // The k-th best of the least scores seen: ranges below it are unlikely to hold the top k,
    // so a round does not read their blocks before the ranges above it are scored and checked.
    // Each round still reads a quarter of its budget, so that with `where` (most of the
    // documents seen filtered out) the rounds stay few.
    const likely = kthLargest(rangeKnown, k);
    while (toRead.size < budget) {
      const ub = topBound();
      if (ub === -Infinity || ub < theta - tol(theta)) break;
      if (toRead.size >= budget / 4 && ub < likely - tol(likely)) break;
      const r = pop();
      if (beaten(ub, r)) {
        parked.push(r);
        continue;
      }
      if (complete(r)) {
        scoreRange(r);
        continue;
      }
      // One block per range and round, the one of greatest bound: a rarer term's block
      // spans many ranges, and once read it usually takes most of them below the k-th
      // score, before the commoner terms' blocks under them are read at all.
      let pick = -1;
      for (let c = coverCount[r]!; c < coverCount[r + 1]!; c++) {
        const i = cover[c]!;
        if (bodies[i] === undefined && (pick < 0 || blockUb[i]! > blockUb[pick]!)) pick = i;
      }
      reread.push(r);
      toRead.add(pick);
    }
    if (toRead.size) {
      const list = [...toRead];
      const { bodies: got, query } = await readBlockBodies(db, list.map((i) => heads[i]!));
      queries.push(query);
      blocksRead += list.length;
      for (const i of list) {
        blockPostingsRead += heads[i]!.n;
        const p = got.get(blockKey(heads[i]!)) ?? null;
        bodies[i] = p;
        bestIn[i] = bestPerRange(p, spanLo[i]!, spanHi[i]!, points, (tf, len) => weight(blockTerm[i]!, tf, len));
        for (let r = spanLo[i]!; r <= spanHi[i]!; r++) readOver[r]!++;
      }
    }
    for (const r of reread) {
      if (complete(r)) scoreRange(r);
      else push(rangeBound(r), r);
    }
    await verify();
    const ub = topBound();
    if (ub === -Infinity || ub < theta - tol(theta)) {
      const back = parked.filter((r) => !beaten(rangeBound(r), r));
      if (!back.length) break;
      parked = parked.filter((r) => beaten(rangeBound(r), r));
      for (const r of back) push(rangeBound(r), r);
    }
    budget = Math.min(MAX_READ, budget * 2);
  }
  return { hits: live.slice(0, k), rounds, blocks: B, blocksRead, blockPostingsRead, candidates, verified, queries };
}

/** The k-th largest of `xs` (-Infinity when fewer than k are finite). */
function kthLargest(xs: Float64Array, k: number): number {
  const finite = xs.filter((x) => x > -Infinity);
  if (finite.length < k) return -Infinity;
  return finite.sort()[finite.length - k]!;
}

/** The first index of `docs` (ascending) at or after `x`. */
function lowerBound(docs: Float64Array, x: number): number {
  let lo = 0;
  let hi = docs.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (docs[mid]! < x) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** Per range of a read block's span, the best weight of its postings there (0: none). */
function bestPerRange(p: BlockPostings | null, lo: number, hi: number, points: Float64Array, w: (tf: number, len: number) => number): Float64Array {
  const out = new Float64Array(hi - lo + 1);
  if (!p) return out;
  let r = lo;
  for (let j = 0; j < p.docs.length; j++) {
    while (r < hi && p.docs[j]! >= points[r + 1]!) r++;
    const x = w(p.tfs[j]!, p.lens[j]!);
    if (x > out[r - lo]!) out[r - lo] = x;
  }
  return out;
}
