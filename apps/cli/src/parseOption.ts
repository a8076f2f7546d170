import { InvalidArgumentError } from 'commander';

/**
 * Option parsers for commander. A bad value throws InvalidArgumentError, which
 * commander reports naming the flag, and main.ts turns into a usage error (exit 2).
 * `Number()` alone would read `x` as NaN and `1.5` as a limit of 1.5.
 */
export const parseOption = {
  /** A whole number in [min, max]. */
  integer:
    (min: number, max: number) =>
    (value: string): number => {
      const v = value.trim();
      if (!/^\d+$/.test(v) || Number(v) < min || Number(v) > max) throw new InvalidArgumentError(`must be a whole number from ${min} to ${max}; got "${value}"`);
      return Number(v);
    },
  /** A finite decimal number, e.g. 0.5 or -1.25. */
  number(value: string): number {
    const v = value.trim();
    if (!/^-?(\d+\.?\d*|\.\d+)(e[-+]?\d+)?$/i.test(v) || !Number.isFinite(Number(v))) throw new InvalidArgumentError(`must be a number, e.g. 0.5; got "${value}"`);
    return Number(v);
  },
  /** A JSON object, e.g. '{"status":"open"}'. */
  jsonObject(value: string): Record<string, unknown> {
    let parsed: unknown;
    try {
      parsed = JSON.parse(value);
    } catch {
      throw new InvalidArgumentError(`must be JSON, for example '{"status":"open"}'; got ${value}`);
    }
    if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) throw new InvalidArgumentError(`must be a JSON object, for example '{"status":"open"}'; got ${value}`);
    return parsed as Record<string, unknown>;
  },
  /** Two non-negative weights KEYWORD,VECTOR, e.g. 0.3,0.7 (not both 0). */
  weights(value: string): { keyword: number; vector: number } {
    const parts = value.split(',').map((p) => p.trim());
    const nums = parts.map((p) => (/^(\d+\.?\d*|\.\d+)(e[-+]?\d+)?$/i.test(p) ? Number(p) : NaN));
    if (nums.length !== 2 || !nums.every((n) => Number.isFinite(n) && n <= 1e6) || nums[0]! + nums[1]! === 0) {
      throw new InvalidArgumentError(`must be two non-negative numbers KEYWORD,VECTOR, not both 0, e.g. 0.3,0.7; got "${value}"`);
    }
    return { keyword: nums[0]!, vector: nums[1]! };
  },
  /** Durations like 30d, 12h, 90m. */
  duration(value: string): string {
    if (!/^\d+[smhdw]$/i.test(value.trim())) throw new InvalidArgumentError('use a number and a unit s, m, h, d or w, e.g. 30d, 12h, 90m');
    return value.trim();
  },
};
