import type { Redis } from 'ioredis';
import type pg from 'pg';
import { pendingMigrations } from '../store/migrate.js';
import { withClient } from '../store/withClient.js';

export interface Readiness {
  ready: boolean;
  postgres: boolean;
  redis: boolean;
  /** False while migrations are pending (a newer version must migrate first). */
  migrations: boolean;
}

/** Ready = Postgres and Redis answer and the schema is fully migrated. */
export async function checkReadiness(pool: pg.Pool, redis: Redis): Promise<Readiness> {
  const timeout = <T>(p: Promise<T>) => Promise.race([p, new Promise<never>((_, reject) => setTimeout(() => reject(new Error('timeout')), 2000))]);
  const [pgRes, redisRes] = await Promise.allSettled([
    timeout(
      withClient(pool, async (client) => (await pendingMigrations(client)).length === 0),
    ),
    timeout(redis.ping()),
  ]);
  const postgres = pgRes.status === 'fulfilled';
  const migrations = pgRes.status === 'fulfilled' && pgRes.value;
  const redisOk = redisRes.status === 'fulfilled';
  return { ready: postgres && redisOk && migrations, postgres, redis: redisOk, migrations };
}
