import type { RedisClient } from '../redis/createRedis.js';
import type pg from 'pg';
import { pendingMigrations } from '../store/migrate.js';
import { withClient } from '../store/withClient.js';
import { withTimeout } from '../util/withTimeout.js';
import type { SpaceProblem } from '../spaces/SpaceProviders.js';

export interface Readiness {
  ready: boolean;
  postgres: boolean;
  redis: boolean;
  /** False while migrations are pending (a newer version must migrate first). */
  migrations: boolean;
  /** Embedding spaces (active or building) whose provider this process cannot build, and why: the process is not ready while any is listed. */
  spaces?: SpaceProblem[];
}

/**
 * Ready = Postgres and Redis answer within `timeoutMs` and the schema is
 * fully migrated. Bounded, so a probe never hangs on Redis' offline queue.
 */
export async function checkReadiness(
  pool: pg.Pool,
  redis: RedisClient,
  opts: { timeoutMs?: number; spaces?: () => Promise<SpaceProblem[]> } = {},
): Promise<Readiness> {
  const timeoutMs = opts.timeoutMs ?? 2000;
  const [pgRes, redisRes, spacesRes] = await Promise.allSettled([
    withTimeout(
      withClient(pool, async (client) => (await pendingMigrations(client)).length === 0),
      timeoutMs,
      'Postgres',
    ),
    withTimeout(redis.ping(), timeoutMs, 'Redis'),
    opts.spaces ? withTimeout(opts.spaces(), timeoutMs, 'Postgres (embedding spaces)') : Promise.resolve(undefined),
  ]);
  const postgres = pgRes.status === 'fulfilled';
  const migrations = pgRes.status === 'fulfilled' && pgRes.value;
  const redisOk = redisRes.status === 'fulfilled';
  const spaces = spacesRes.status === 'fulfilled' ? spacesRes.value : undefined;
  const spacesOk = !opts.spaces || (spaces !== undefined && spaces.length === 0);
  return { ready: postgres && redisOk && migrations && spacesOk, postgres, redis: redisOk, migrations, ...(spaces ? { spaces } : {}) };
}
