import type pg from 'pg';

/** Resolves once an API process's transaction has written a row (Postgres then gives it an xid). */
export async function ingestTransactionWrote(watcher: pg.Client, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const { rows } = await watcher.query(
      `SELECT count(*)::int AS n FROM pg_stat_activity
        WHERE datname = current_database() AND application_name = 'kameleondb-api' AND backend_xid IS NOT NULL`,
    );
    if (rows[0].n > 0) return;
    if (Date.now() > deadline) throw new Error('never saw the ingest transaction');
    await new Promise((r) => setTimeout(r, 2));
  }
}
