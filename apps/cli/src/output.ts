/** What a command returns: its data, and how to show it to a person. */
export interface CommandResult<T = unknown> {
  data: T;
  human: (data: T) => string;
}

/** Renders rows as an aligned text table. */
export function table(headers: readonly string[], rows: readonly (readonly (string | number)[])[]): string {
  const cells = [headers, ...rows.map((r) => r.map(String))];
  const widths = headers.map((_, i) => Math.max(...cells.map((r) => (r[i] ?? '').length)));
  return cells.map((r) => r.map((c, i) => (typeof rows[0]?.[i] === 'number' ? c.padStart(widths[i]!) : c.padEnd(widths[i]!))).join('  ').trimEnd()).join('\n');
}

/** The one place command results are printed: JSON for machines, text for people. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- each command has its own data type
export function print(result: CommandResult<any>, json: boolean): void {
  process.stdout.write(json ? `${JSON.stringify(result.data, null, 2)}\n` : `${result.human(result.data)}\n`);
}
