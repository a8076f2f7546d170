/** Where a vector statement's execution went, from its EXPLAIN (ANALYZE, FORMAT JSON). */
export interface VectorScanTimes {
  /** Each branch of the UNION ALL in statement order (the sealed segments, then the hot range), in ms. */
  branchMs: number[];
  /** The statement's execution time on the server, in ms. */
  executionMs: number;
  /** Its planning time, in ms (the re-run is planned afresh; the prepared statement keeps its plan). */
  planningMs: number;
}

interface PlanNode {
  'Node Type'?: string;
  'Actual Total Time'?: number;
  'Actual Loops'?: number;
  Plans?: PlanNode[];
}

const round = (ms: number) => Math.round(ms * 1000) / 1000;
// A node's time covers the calls into it alone, so the branches of one Append do not overlap.
const nodeMs = (n: PlanNode) => (n['Actual Total Time'] ?? 0) * (n['Actual Loops'] ?? 1);

function find(n: PlanNode, types: readonly string[]): PlanNode | undefined {
  if (types.includes(n['Node Type'] ?? '')) return n;
  for (const child of n.Plans ?? []) {
    const found = find(child, types);
    if (found) return found;
  }
  return undefined;
}

/**
 * The time of each of `branches` UNION ALL branches in the JSON plan that
 * EXPLAIN (ANALYZE, FORMAT JSON) returned; undefined when the plan does not
 * have that shape (the planner merged or removed a branch), so nothing is
 * attributed to the wrong segment.
 */
export function vectorScanTimes(plan: unknown, branches: number): VectorScanTimes | undefined {
  const top = (Array.isArray(plan) ? plan[0] : plan) as { Plan?: PlanNode; 'Execution Time'?: number; 'Planning Time'?: number } | undefined;
  if (!top?.Plan || typeof top['Execution Time'] !== 'number') return undefined;
  const executionMs = round(top['Execution Time']);
  const planningMs = round(top['Planning Time'] ?? 0);
  // One branch (nothing sealed yet): no Append; the hot scan is under the top-k's Limit (the
  // first one: the rows joined after it, when the statement brings them, are not the scan's).
  if (branches === 1) {
    const limit = find(top.Plan, ['Limit']);
    return limit ? { branchMs: [round(nodeMs(limit))], executionMs, planningMs } : undefined;
  }
  const append = find(top.Plan, ['Append', 'Merge Append']);
  if (!append?.Plans || append.Plans.length !== branches) return undefined;
  return { branchMs: append.Plans.map((p) => round(nodeMs(p))), executionMs, planningMs };
}
