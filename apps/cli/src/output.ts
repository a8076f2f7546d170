/** What a command returns: its data, and how to show it to a person. */
export interface CommandResult<T = unknown> {
  data: T;
  /** A method, so that a command answering one of two shapes still types as a CommandResult of either. */
  human(data: T): string;
  /** Non-zero when the command did its job but the outcome is a failure (a cancelled run). */
  exitCode?: number;
}

/** Renders rows as an aligned text table. */
export function table(headers: readonly string[], rows: readonly (readonly (string | number)[])[]): string {
  const cells = [headers, ...rows.map((r) => r.map(String))];
  const widths = headers.map((_, i) => Math.max(...cells.map((r) => (r[i] ?? '').length)));
  return cells.map((r) => r.map((c, i) => (typeof rows[0]?.[i] === 'number' ? c.padStart(widths[i]!) : c.padEnd(widths[i]!))).join('  ').trimEnd()).join('\n');
}

/** The one place command results are printed: JSON for machines, text for people. */
export function print<T>(result: CommandResult<T>, json: boolean): void {
  process.stdout.write(json ? `${JSON.stringify(result.data, null, 2)}\n` : `${result.human(result.data)}\n`);
  if (result.exitCode) process.exitCode = result.exitCode;
}

/**
 * The one place errors are printed: `{status: "error", error, code}` on stdout
 * with --json (an agent parses one document whatever happened), else a line on stderr.
 */
export function printError(message: string, code: string, json: boolean): void {
  if (json) process.stdout.write(`${JSON.stringify({ status: 'error', error: message, code })}\n`);
  else process.stderr.write(`error: ${message}\n`);
}

/** `90`, `1m 30s`, `2h 5m`. */
export function seconds(s: number | null): string {
  if (s === null) return '?';
  if (s < 60) return `${Math.round(s)}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m ${Math.round(s % 60)}s`;
  return `${Math.floor(s / 3600)}h ${Math.round((s % 3600) / 60)}m`;
}

export function bytes(n: number): string {
  const units = ['B', 'KB', 'MB', 'GB', 'TB'];
  let i = 0;
  while (n >= 1024 && i < units.length - 1) {
    n /= 1024;
    i++;
  }
  return `${n.toFixed(i ? 1 : 0)} ${units[i]}`;
}
