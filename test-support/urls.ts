/** Where the tests find the services: KDB_TEST_PG_URL (a server URL, any database) and KDB_TEST_REDIS_URL. */
const base = process.env.KDB_TEST_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';

export const redisUrl = (): string => process.env.KDB_TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';
export const adminUrl = (): string => base;

/** `serverUrl` with its database replaced by `name`. */
export function withDatabase(serverUrl: string, name: string): string {
  const u = new URL(serverUrl);
  u.pathname = `/${name}`;
  return u.toString();
}

export const dbUrl = (name: string): string => withDatabase(base, name);
