import type pg from 'pg';
import { blockKey, liveBlockDocs, readBlockBodies, readGroupBlocks, readGroupHeads, type BlockHead, type BlockPostings, type GroupHead } from '../store/postingsBlockStore.js';
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
  /**
   * The groups already read with the statistics (readStatsAndHeads, over
   * these `entities`, for at least these `terms`), and their statement: the
   * search starts from them instead of reading them again.
   */
  firstGroups?: { groups: readonly GroupHead[]; query: { text: string; values: unknown[] } } | undefined;
}

export interface BlockTopK {
  /** Exact top k of the documents in blocks: score descending, then id ascending. */
  hits: KeywordHit[];
  rounds: number;
  /** Groups of block heads of the query terms (sql/000019), all read. */
  groups: number;
  /** Groups opened: their blocks' heads read. */
  groupsOpened: number;
  /** Blocks whose heads were read (in the groups opened, or a group's only block). */
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
/** Blocks read or groups opened in the first round; each next round up to twice as many. */
const FIRST_READ = 8;
const MAX_READ = 1024;

/**
 * Exact BM25 top-k over the postings blocks (sql/000018, sql/000019):
 * Block-Max pruning on doc-number ranges, over a two-level tree of heads.
 *
 * The query terms' groups are read first (a group is the head of up to 32
 * blocks of one term: their span, (tf, length) frontier and least id). The
 * doc-number axis is cut at every known boundary into ranges; a range's bound
 * sums, over the query terms, the best weight any item of that term over the
 * range can give (an unopened group's or unread block's frontier best; a read
 * block's best posting in the range), except that the terms whose blocks over
 * the range are all read are summed per document: the best posting of a rare
 * term and of a mid one are mostly in different documents, and a bound of
 * their sum read nearly every block of the common terms under them. Rounds
 * take the ranges of highest bound and, for each, open or read the item of
 * greatest bound over it (a rare term's first: it spans many ranges and
 * usually takes most below the k-th score). Opening groups cuts the axis
 * anew at their blocks' boundaries; a range already scored is never cut
 * (an item over part of it would have been over it). A range whose blocks
 * are all read is scored, every document exactly (a document's postings for
 * a term are in that term's blocks over its number), and the candidates that
 * can reach the top k are checked against kdb_search (a number whose document
 * was deleted or changed text is dead) and `where`. The search stops when no
 * range's bound reaches the k-th checked score less a rounding margin, so a
 * document whose score ties the k-th within rounding is always scored and its
 * id decides. Work grows with the groups of the query terms (a 32nd of their
 * blocks) and the items that can still reach the top k, not with the terms'
 * document frequency.
 */
export async function blockTopK(db: pg.Pool | pg.ClientBase, opts: BlockTopKOptions): Promise<BlockTopK> {
  const { k } = opts;
  const { terms, T, termIndex, weight } = bm25Query(opts);
  const where = opts.where ? JSON.stringify(opts.where) : undefined;
  const { groups, query: groupsQuery } = opts.firstGroups
    ? { groups: opts.firstGroups.groups.filter((g) => termIndex.has(g.term)), query: opts.firstGroups.query }
    : await readGroupHeads(db, opts.entities, terms);
  const queries = [groupsQuery];
  const empty: BlockTopK = { hits: [], rounds: 0, groups: groups.length, groupsOpened: 0, blocks: 0, blocksRead: 0, blockPostingsRead: 0, candidates: 0, verified: 0, queries };
  if (groups.length === 0 || k <= 0) return empty;

  // Items: groups not opened, and blocks. A group of one block is that block.
  const heads: BlockHead[] = [];
  const itemTerm: number[] = [];
  const itemUb: number[] = [];
  const isGroup: boolean[] = [];
  const alive: boolean[] = [];
  const bodies: (BlockPostings | null | undefined)[] = [];
  /** Per read block, the weight of each of its postings. */
  const wts: (Float64Array | undefined)[] = [];
  let blocks = 0;
  const addItem = (h: BlockHead, group: boolean) => {
    const ti = termIndex.get(h.term)!;
    let best = 0;
    for (let j = 0; j < h.frontier.length; j += 2) best = Math.max(best, weight(ti, h.frontier[j]!, h.frontier[j + 1]!));
    heads.push(h);
    itemTerm.push(ti);
    itemUb.push(best);
    isGroup.push(group);
    alive.push(true);
    bodies.push(undefined);
    wts.push(undefined);
    if (!group) blocks++;
  };
  for (const g of groups) addItem(g, g.blocks > 1);

  // The ranges over the live items, rebuilt when groups are opened: range r is [points[r], points[r+1]).
  let points = new Float64Array(0);
  let R = 0;
  let coverCount = new Int32Array(1);
  let cover = new Int32Array(0);
  const spanLo: number[] = [];
  const spanHi: number[] = [];
  const bestIn: (Float64Array | undefined)[] = [];
  let readOver = new Int32Array(0);
  let cachedAt = new Int32Array(0);
  let cached = new Float64Array(0);
  // Per range, the least score its best document seen can have (the weights known so
  // far): only to size a round's reads (below), never to prune, since a document may be
  // dead or filtered out.
  let rangeKnown = new Float64Array(0);
  // The least record id a range's documents can have: the least of its items'. Worked out
  // when first asked (only ties of bounds and of the k-th ask), not for every range of a rebuild.
  let rangeMinIds: (string | undefined)[] = [];
  const rangeMinId = (r: number): string => {
    let m = rangeMinIds[r];
    if (m !== undefined) return m;
    m = '';
    for (let c = coverCount[r]!; c < coverCount[r + 1]!; c++) {
      const id = heads[cover[c]!]!.min_id;
      if (m === '' || id < m) m = id;
    }
    rangeMinIds[r] = m;
    return m;
  };
  /** Starts of the ranges scored: such a range is never cut again, nor scored twice. */
  const done = new Set<number>();
  /** The ends of the groups opened, kept as cut points even if a group's blocks are gone (an analyzer's old generation dropped meanwhile): a range scored is never merged with one that is not. */
  const opened: number[] = [];
  /** The range holding `doc`: the last point at or below it (every item's span starts at a point). */
  const rangeOf = (doc: number) => lastAtOrBelow(points, doc);

  const scratch = new Float64Array(T);
  // A range's bound: per term, the best weight its items over the range can give
  // (unopened or unread: the frontier's best; read: the best of its postings in the
  // range). Where every block of a term over the range is read, its weights are known
  // per document, so the bound is the best over the range's documents of those exact
  // weights plus the other terms' bests. Summed in query-term order with each part no
  // less than the document's, so its float value is no less than any document's score.
  const exact = new Uint8Array(T);
  // The documents of a range in its read blocks, merged in doc order (a document's
  // posting for a term is in one block): cursors per block, reused.
  let curI = new Int32Array(64);
  let curJ = new Int32Array(64);
  let curEnd = new Int32Array(64);
  const sums = new Float64Array(T);
  /** Calls `each` for every document of range r in its read blocks (of the terms where `use`, if given), with sums[ti] its weight per term (0 where absent). */
  const eachDoc = (r: number, use: Uint8Array | null, each: (doc: number, key: string) => void) => {
    const lo = points[r]!;
    const hi = points[r + 1]!;
    let m = 0;
    for (let c = coverCount[r]!; c < coverCount[r + 1]!; c++) {
      const i = cover[c]!;
      const p = bodies[i];
      if (!p || (use && !use[itemTerm[i]!])) continue;
      const j = lowerBound(p.docs, lo);
      const e = lowerBound(p.docs, hi);
      if (j === e) continue;
      if (m === curI.length) {
        const grow = (a: Int32Array) => {
          const b = new Int32Array(2 * a.length);
          b.set(a);
          return b;
        };
        [curI, curJ, curEnd] = [grow(curI), grow(curJ), grow(curEnd)];
      }
      curI[m] = i;
      curJ[m] = j;
      curEnd[m] = e;
      m++;
    }
    while (m > 0) {
      let d = Infinity;
      for (let q = 0; q < m; q++) d = Math.min(d, bodies[curI[q]!]!.docs[curJ[q]!]!);
      sums.fill(0);
      let key = '';
      for (let q = 0; q < m; ) {
        const i = curI[q]!;
        if (bodies[i]!.docs[curJ[q]!] !== d) {
          q++;
          continue;
        }
        sums[itemTerm[i]!] = wts[i]![curJ[q]!]!;
        key = heads[i]!.entity;
        if (++curJ[q]! === curEnd[q]) {
          m--;
          curI[q] = curI[m]!;
          curJ[q] = curJ[m]!;
          curEnd[q] = curEnd[m]!;
        } else q++;
      }
      each(d, key);
    }
  };
  const rangeBound = (r: number) => {
    scratch.fill(0);
    exact.fill(1);
    let someRead = false;
    for (let c = coverCount[r]!; c < coverCount[r + 1]!; c++) {
      const i = cover[c]!;
      const ti = itemTerm[i]!;
      let x: number;
      if (bodies[i] === undefined) {
        exact[ti] = 0;
        x = itemUb[i]!;
      } else {
        someRead = true;
        x = bestIn[i]![r - spanLo[i]!]!;
      }
      if (x > scratch[ti]!) scratch[ti] = x;
    }
    if (!someRead || exact.every((e) => !e)) {
      let x = 0;
      for (let ti = 0; ti < T; ti++) x += scratch[ti]!;
      return x;
    }
    if (cachedAt[r] === readOver[r]) return cached[r]!;
    let best = 0;
    for (let ti = 0; ti < T; ti++) best += exact[ti] ? 0 : scratch[ti]!;
    eachDoc(r, exact, () => {
      let x = 0;
      let known = 0;
      for (let ti = 0; ti < T; ti++) {
        x += exact[ti] ? sums[ti]! : scratch[ti]!;
        if (exact[ti]) known += sums[ti]!;
      }
      if (x > best) best = x;
      if (known > rangeKnown[r]!) rangeKnown[r] = known;
    });
    cachedAt[r] = readOver[r]!;
    cached[r] = best;
    return best;
  };
  const complete = (r: number) => {
    for (let c = coverCount[r]!; c < coverCount[r + 1]!; c++) if (bodies[cover[c]!] === undefined) return false;
    return true;
  };

  // Max-heap of (bound, range), equal bounds by least id first (ties go to the smaller id);
  // bounds only fall as items are read, so a stale top is pushed again with its new bound.
  let heapUb: number[] = [];
  let heapR: number[] = [];
  const above = (i: number, j: number) => heapUb[i]! > heapUb[j]! || (heapUb[i] === heapUb[j] && rangeMinId(heapR[i]!) < rangeMinId(heapR[j]!));
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
  // Ranges set aside for tying the k-th with greater ids only: checked again against the final k-th.
  let parked: number[] = [];

  const rebuild = () => {
    // The ranges' bounds so far, by range: a range cut anew lies in one of them (opening a
    // group keeps its ends), so its bound there still bounds it, and the heap refines it
    // when it comes to the top; worked out anew only for the ranges taken out this round.
    const before = points;
    const carried = new Float64Array(R).fill(Infinity);
    for (let j = 0; j < heapR.length; j++) carried[heapR[j]!] = Math.min(carried[heapR[j]!]!, heapUb[j]!);
    const knownBefore = rangeKnown;
    const act: number[] = [];
    for (let i = 0; i < heads.length; i++) if (alive[i]) act.push(i);
    const all = new Float64Array(2 * act.length + opened.length);
    act.forEach((i, j) => {
      all[2 * j] = heads[i]!.first;
      all[2 * j + 1] = heads[i]!.last + 1;
    });
    all.set(opened, 2 * act.length);
    all.sort();
    let m = 0;
    for (let j = 0; j < all.length; j++) if (m === 0 || all[m - 1] !== all[j]) all[m++] = all[j]!;
    points = all.subarray(0, m);
    R = Math.max(0, points.length - 1);
    coverCount = new Int32Array(R + 1);
    for (const i of act) {
      spanLo[i] = rangeOf(heads[i]!.first);
      spanHi[i] = rangeOf(heads[i]!.last + 1) - 1;
      for (let r = spanLo[i]!; r <= spanHi[i]!; r++) coverCount[r + 1]!++;
    }
    for (let r = 0; r < R; r++) coverCount[r + 1]! += coverCount[r]!;
    cover = new Int32Array(coverCount[R]!);
    const fill = coverCount.slice(0, R);
    for (const i of act) for (let r = spanLo[i]!; r <= spanHi[i]!; r++) cover[fill[r]!++] = i;
    readOver = new Int32Array(R);
    cachedAt = new Int32Array(R).fill(-1);
    cached = new Float64Array(R);
    rangeKnown = new Float64Array(R).fill(-Infinity);
    for (const i of act) {
      if (bodies[i] === undefined) continue;
      bestIn[i] = bestPerRange(bodies[i]!, wts[i]!, spanLo[i]!, spanHi[i]!, points);
      for (let r = spanLo[i]!; r <= spanHi[i]!; r++) readOver[r]!++;
    }
    rangeMinIds = new Array<string | undefined>(R);
    heapUb = [];
    heapR = [];
    parked = [];
    for (let r = 0; r < R; r++) {
      if (coverCount[r + 1]! === coverCount[r]! || done.has(points[r]!)) continue;
      // Scored before the round's check, as when no group was opened.
      if (complete(r)) {
        scoreRange(r);
        continue;
      }
      const o = lastAtOrBelow(before, points[r]!);
      const ub = o >= 0 && o < carried.length ? carried[o]! : Infinity;
      if (ub === Infinity) push(rangeBound(r), r);
      else {
        push(ub, r);
        if (before[o] === points[r] && before[o + 1] === points[r + 1]) rangeKnown[r] = knownBefore[o]!;
      }
    }
  };

  // Documents scored, waiting for their check; and those checked live, with their record id.
  let unverified: { docNo: number; key: string; score: number }[] = [];
  const live: KeywordHit[] = [];
  let theta = -Infinity;
  let candidates = 0;
  let verified = 0;
  let blocksRead = 0;
  let blockPostingsRead = 0;
  let groupsOpened = 0;
  let rounds = 0;
  // The k best scores of the documents scored (their ranges are not rebuilt, so rangeKnown forgets them).
  const scoredBest: number[] = [];
  const scoreRange = (r: number) => {
    done.add(points[r]!);
    eachDoc(r, null, (docNo, key) => {
      // Summed in query-term order, as keywordTopK does: equal documents get bit-equal scores.
      let score = 0;
      for (let ti = 0; ti < T; ti++) score += sums[ti]!;
      candidates++;
      if (score > rangeKnown[r]!) rangeKnown[r] = score;
      if (scoredBest.length < k || score > scoredBest[scoredBest.length - 1]!) {
        scoredBest.push(score);
        scoredBest.sort((x, y) => y - x);
        if (scoredBest.length > k) scoredBest.pop();
      }
      if (score >= theta - tol(theta)) unverified.push({ docNo, key, score });
    });
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
    return kth !== undefined && ub - kth.score <= 1e-12 && rangeMinId(r) > kth.id;
  };

  rebuild();
  let budget = FIRST_READ;
  for (;;) {
    rounds++;
    const reread: number[] = [];
    const toRead = new Set<number>();
    const toOpen = new Set<number>();
    let readsBeforeOpen = 0;
    // The k-th best of the least scores seen: ranges below it are unlikely to hold the top k,
    // so a round does not read under them before the ranges above it are scored and checked.
    // Each round still takes a quarter of its budget, so that with `where` (most of the
    // documents seen filtered out) the rounds stay few.
    const likely = kthLargest(k, rangeKnown, scoredBest);
    while (toRead.size + toOpen.size < budget) {
      const ub = topBound();
      if (ub === -Infinity || ub < theta - tol(theta)) break;
      if (toRead.size + toOpen.size >= budget / 4 && ub < likely - tol(likely)) break;
      const r = pop();
      if (beaten(ub, r)) {
        parked.push(r);
        continue;
      }
      if (complete(r)) {
        scoreRange(r);
        continue;
      }
      let pick = -1;
      for (let c = coverCount[r]!; c < coverCount[r + 1]!; c++) {
        const i = cover[c]!;
        if (bodies[i] === undefined && (pick < 0 || itemUb[i]! > itemUb[pick]!)) pick = i;
      }
      if (isGroup[pick]) {
        // A quarter of the budget in groups: the blocks of the first may settle the k-th.
        if (toOpen.size >= Math.max(1, budget / 4) && !toOpen.has(pick)) {
          push(ub, r);
          break;
        }
        if (toOpen.size === 0) readsBeforeOpen = toRead.size;
        toOpen.add(pick);
      } else toRead.add(pick);
      reread.push(r);
    }
    const opening = [...toOpen];
    // Of a round that opens groups, only the blocks picked before the first group are read:
    // those a group reveals may bound higher than the blocks picked after it.
    const reading = [...toRead].slice(0, opening.length ? readsBeforeOpen : toRead.size);
    const [revealed, got] = await Promise.all([
      opening.length ? readGroupBlocks(db, opening.map((i) => heads[i]!)) : undefined,
      reading.length ? readBlockBodies(db, reading.map((i) => heads[i]!)) : undefined,
    ]);
    if (got) {
      queries.push(got.query);
      blocksRead += reading.length;
      for (const i of reading) {
        blockPostingsRead += heads[i]!.n;
        const body = (bodies[i] = got.bodies.get(blockKey(heads[i]!)) ?? null);
        const ws = (wts[i] = new Float64Array(body ? body.docs.length : 0));
        for (let j = 0; j < ws.length; j++) ws[j] = weight(itemTerm[i]!, body!.tfs[j]!, body!.lens[j]!);
        if (revealed) continue;
        bestIn[i] = bestPerRange(bodies[i]!, wts[i]!, spanLo[i]!, spanHi[i]!, points);
        for (let r = spanLo[i]!; r <= spanHi[i]!; r++) readOver[r]!++;
      }
    }
    if (revealed) {
      queries.push(revealed.query);
      groupsOpened += opening.length;
      for (const i of opening) {
        alive[i] = false;
        opened.push(heads[i]!.first, heads[i]!.last + 1);
        for (const h of revealed.blocks.get(blockKey(heads[i]!)) ?? []) addItem(h, false);
      }
      rebuild();
    } else {
      for (const r of reread) {
        if (complete(r)) scoreRange(r);
        else push(rangeBound(r), r);
      }
    }
    await verify();
    const ub = topBound();
    if (ub === -Infinity || ub < theta - tol(theta)) {
      const back = parked.filter((r) => !beaten(rangeBound(r), r));
      if (!back.length) break;
      parked = parked.filter((r) => beaten(rangeBound(r), r));
      for (const r of back) push(rangeBound(r), r);
    }
    // Opening groups reads heads only: the reads of blocks set the pace.
    if (reading.length) budget = Math.min(MAX_READ, budget * 2);
  }
  return { hits: live.slice(0, k), rounds, groups: groups.length, groupsOpened, blocks, blocksRead, blockPostingsRead, candidates, verified, queries };
}

/** The k-th largest of the lists' values together (-Infinity when fewer than k are finite). */
function kthLargest(k: number, ...lists: ArrayLike<number>[]): number {
  // The k best so far, descending (k is a search's limit: small).
  const top: number[] = [];
  for (const xs of lists) {
    for (let i = 0; i < xs.length; i++) {
      const x = xs[i]!;
      if (x === -Infinity || (top.length === k && x <= top[k - 1]!)) continue;
      let at = top.length < k ? top.length : k - 1;
      while (at > 0 && top[at - 1]! < x) {
        if (at < top.length) top[at] = top[at - 1]!;
        else top.push(top[at - 1]!);
        at--;
      }
      top[at] = x;
    }
  }
  return top.length < k ? -Infinity : top[k - 1]!;
}

/** The last index of `xs` (ascending) whose value is at most `x`, or -1. */
function lastAtOrBelow(xs: Float64Array, x: number): number {
  let lo = -1;
  let hi = xs.length - 1;
  while (lo < hi) {
    const mid = (lo + hi + 1) >> 1;
    if (xs[mid]! <= x) lo = mid;
    else hi = mid - 1;
  }
  return lo;
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
function bestPerRange(p: BlockPostings | null, w: Float64Array, lo: number, hi: number, points: Float64Array): Float64Array {
  const out = new Float64Array(hi - lo + 1);
  if (!p) return out;
  let r = lo;
  for (let j = 0; j < p.docs.length; j++) {
    while (r < hi && p.docs[j]! >= points[r + 1]!) r++;
    if (w[j]! > out[r - lo]!) out[r - lo] = w[j]!;
  }
  return out;
}
