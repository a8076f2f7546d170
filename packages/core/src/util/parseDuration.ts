import { ValidationError } from '../errors.js';

const UNITS: Record<string, number> = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 };

/** `30d`, `12h`, `90m`, `45s`, `2w` → milliseconds. `what` names the parameter in the error. */
export function parseDuration(text: string, what = 'duration'): number {
  const m = /^(\d+)\s*([smhdw])$/i.exec(text.trim());
  if (!m) throw new ValidationError(`${what} "${text}" is not a duration: use a number and a unit s, m, h, d or w (30d, 12h, 90m)`);
  return Number(m[1]) * UNITS[m[2]!.toLowerCase()]!;
}
