import pg from 'pg';
import type { TestProject } from 'vitest/node';
import { migrate } from '@kameleondb/core';
import { adminUrl, dbUrl } from './urls.js';

/**
 * Migrates one template database per test run; each test file clones it
 * (`CREATE DATABASE … TEMPLATE`), which takes milliseconds.
 */
export default async function setup(project: TestProject) {
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
  };
}

declare module 'vitest' {
  export interface ProvidedContext {
    templateDb: string;
  }
}
