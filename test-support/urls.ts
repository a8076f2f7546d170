/** Where the tests find the services: KDB_TEST_PG_URL (a server URL, any database) and KDB_TEST_REDIS_URL. */
const base = process.env.KDB_TEST_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';

export const redisUrl = (): string => process.env.KDB_TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';
export const adminUrl = (): string => base;
export function dbUrl(name: string): string {
  const u = new URL(base);
  u.pathname = `/${name}`;
  return u.toString();
}
