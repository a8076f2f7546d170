import pg from 'pg';
import type { TestProject } from 'vitest/node';
import { migrate } from '@kameleondb/core';
import { adminUrl, dbUrl } from './urls.js';
import { appSource } from './appCommand.js';
import { dropOrphanClusters } from './throwawayCluster.js';

/**
 * Says where app processes start from (appCommand), and migrates one template database per test run; each test file clones it
 * (`CREATE DATABASE … TEMPLATE`), which takes milliseconds.
 */
export default async function setup(project: TestProject) {
  // Decided here once so that a stale build is said at the top of the run (and KDB_TEST_APPS=dist fails it).
  const apps = appSource();
  if (apps.from === 'source') console.warn(`app processes start from the sources through tsx: ${apps.reason}`);
  const orphans = dropOrphanClusters();
  if (orphans.length) console.warn(`dropped throwaway clusters of test processes that are gone: ${orphans.join(', ')}`);
  const template = `kdb_tpl_${process.pid}`;
  const admin = new pg.Client({ connectionString: adminUrl() });
  await admin.connect();
  await admin.query(`DROP DATABASE IF EXISTS ${template}`);
  await admin.query(`CREATE DATABASE ${template}`);
  await admin.end();
  await migrate({ connectionString: dbUrl(template) });
  project.provide('templateDb', template);
  return async () => {
    const c = new pg.Client({ connectionString: adminUrl() });
    await c.connect();
    await c.query(`DROP DATABASE IF EXISTS ${template} WITH (FORCE)`);
    await c.end();
    // A fork killed at a timeout left its cluster: its exit handler never ran.
    dropOrphanClusters();
  };
}

declare module 'vitest' {
  export interface ProvidedContext {
    templateDb: string;
  }
}
