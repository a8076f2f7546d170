/** Where bench:peer writes every turn and setting of a run. */
export const PEER_DETAILS = 'docs/benchmarks/peer.md';

/**
 * What BENCHMARKS.md keeps of a bench:peer section: its heading, the run
 * line (date, machine, command), the ratio lines and any failure, with a
 * link to the full section in PEER_DETAILS.
 */
export function peerSummary(lines: readonly string[]): string[] {
  const [heading, , run] = lines;
  const kept = lines.filter((l) => /^- \d+ records, /.test(l) || l.startsWith('Ratios in the same turn: our') || / turn\(s\) failed\*\*/.test(l));
  // A paragraph after the list of ratios needs a blank line, or Markdown runs it into the last item.
  const body = kept.flatMap((l, i) => (i > 0 && !l.startsWith('- ') && kept[i - 1]!.startsWith('- ') ? ['', l] : [l]));
  return [heading!, '', run!, '', ...body, '', `Every turn, setting and peak RSS: [${PEER_DETAILS}](${PEER_DETAILS}).`];
}
