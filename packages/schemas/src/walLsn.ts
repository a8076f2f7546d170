import { z } from 'zod';

/** A PostgreSQL WAL position as `pg_current_wal_lsn()` prints it: two hex numbers of up to 8 digits, `16/B374D848`. */
export const WAL_LSN_PATTERN = /^[0-9A-Fa-f]{1,8}\/[0-9A-Fa-f]{1,8}$/;

/** Longest text the LSN schema looks at: bounded work on hostile input. */
const MAX_LSN_TEXT = 17;

/** A WAL position (the `KDB-Commit-LSN` of a write answer), for `after=` and the `KDB-After-LSN` header. */
export const walLsnSchema = (name: string) =>
  z
    .string({ message: `${name} must be a WAL position such as 16/B374D848 (the KDB-Commit-LSN of a write answer)` })
    .max(MAX_LSN_TEXT, `${name} must be a WAL position such as 16/B374D848 (two hex numbers of up to 8 digits)`)
    .regex(WAL_LSN_PATTERN, `${name} must be a WAL position such as 16/B374D848 (two hex numbers of up to 8 digits)`);
