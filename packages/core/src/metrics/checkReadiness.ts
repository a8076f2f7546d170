import type { Redis } from 'ioredis';
import type pg from 'pg';
import { pendingMigrations } from '../store/migrate.js';
import { withClient } from '../store/withClient.js';
import { withTimeout } from '../util/withTimeout.js';

export interface Readiness {
  ready: boolean;
  postgres: boolean;
  redis: boolean;
  /** False while migrations are pending (a newer version must migrate first). */
  migrations: boolean;
}

/**
 * Ready = Postgres and Redis answer within `timeoutMs` and the schema is
 * fully migrated. Bounded, so a probe never hangs on Redis' offline queue.
 */
export async function checkReadiness(pool: pg.Pool, redis: Redis, timeoutMs = 2000): Promise<Readiness> {
  const [pgRes, redisRes] = await Promise.allSettled([
    withTimeout(
      withClient(pool, async (client) => (await pendingMigrations(client)).length === 0),
      timeoutMs,
      'Postgres',
    ),
    withTimeout(redis.ping(), timeoutMs, 'Redis'),
  ]);
  const postgres = pgRes.status === 'fulfilled';
  const migrations = pgRes.status === 'fulfilled' && pgRes.value;
  const redisOk = redisRes.status === 'fulfilled';
  return { ready: postgres && redisOk && migrations, postgres, redis: redisOk, migrations };
}
