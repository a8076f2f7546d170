import { mkdir } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { chromium, type Browser } from 'playwright-core';
import { afterAll, describe, expect, it } from 'vitest';
import { startApiProcess, startTogether, startWorkerProcess, stopAll, type ChildApp } from '../../../test-support/processes.js';
import { test } from '../../../test-support/fixtures.js';
import type { TestDatabase } from '../../../test-support/testDatabase.js';
import { jsonClient } from '../../../test-support/http.js';
import { redisUrl } from '../../../test-support/urls.js';

const KEY = 'dashboard-key-0123456789';
const ARTIFACTS = fileURLToPath(new URL('../../../test-artifacts/', import.meta.url));

describe('Bull Board dashboard in a real browser (Debian Chromium)', () => {
  let db: TestDatabase;
  let prefix: string;
  const children: ChildApp[] = [];
  let apiUrl: string;
  let browser: Browser;

  test.beforeAll(async ({ db: d, prefix: p }) => {
    [db, prefix] = [d, p];
    const env = { KDB_DATABASE_URL: db.url, KDB_REDIS_URL: redisUrl(), KDB_QUEUE_PREFIX: prefix, KDB_API_KEY: KEY };
    const [api, ...workers] = await startTogether(() => startApiProcess(env), () => startWorkerProcess(env));
    apiUrl = api.url;
    children.push(api, ...workers);
    const call = jsonClient(apiUrl, KEY);
    await call('POST', '/v1/entities', { name: 'docs', fields: { t: 'text' }, embedFields: ['t'] });
    for (let i = 0; i < 3; i++) await call('POST', '/v1/entities/docs/records?wait=true', [{ t: `dashboard ${i}` }]);
    browser = await chromium.launch({
      executablePath: '/usr/bin/chromium',
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    });
  });
  afterAll(async () => {
    await browser?.close();
    await stopAll(children);
  });

  const context = async (credentials?: { username: string; password: string }) => {
    const ctx = await browser.newContext(credentials ? { httpCredentials: credentials } : {});
    // Only loopback: the page links a web font host, which must not be reached.
    await ctx.route('**/*', (route) => (/^https?:\/\/(127\.0\.0\.1|localhost)[:/]/.test(route.request().url()) ? route.continue() : route.abort()));
    return ctx;
  };

  it('refuses a visitor without credentials', async () => {
    const ctx = await context();
    const page = await ctx.newPage();
    // Chromium either shows the 401 answer or, having no credentials to offer, fails the navigation.
    const outcome = await page.goto(`${apiUrl}/admin/queues`).then((r) => `status ${r!.status()}`, (e: unknown) => String(e));
    expect(outcome).toMatch(/status 401|ERR_INVALID_AUTH_CREDENTIALS/);
    expect(await page.getByText('maintenance').count()).toBe(0);
    await ctx.close();
    const plain = await fetch(`${apiUrl}/admin/queues`);
    expect(plain.status).toBe(401);
    expect(plain.headers.get('www-authenticate')).toMatch(/^Basic realm=/);
    // A wrong password: Chromium gives up on the credentials; the server answered 401.
    const wrong = await context({ username: 'ops', password: 'not-the-key-123456' });
    const wrongPage = await wrong.newPage();
    const err = await wrongPage.goto(`${apiUrl}/admin/queues`).then((r) => `status ${r!.status()}`, (e: unknown) => String(e));
    expect(err).toMatch(/status 401|ERR_INVALID_AUTH_CREDENTIALS/);
    expect(await wrongPage.getByText('maintenance').count()).toBe(0);
    await wrong.close();
    const basic = (p: string) => ({ authorization: `Basic ${Buffer.from(`ops:${p}`).toString('base64')}` });
    expect((await fetch(`${apiUrl}/admin/queues`, { headers: basic('not-the-key-123456') })).status).toBe(401);
    expect((await fetch(`${apiUrl}/admin/queues`, { headers: basic(KEY) })).status).toBe(200);
  });

  it('shows every queue, with the completed embed jobs of the ingest, after logging in', async () => {
    const ctx = await context({ username: 'ops', password: KEY });
    const page = await ctx.newPage();
    const res = await page.goto(`${apiUrl}/admin/queues`);
    expect(res!.status()).toBe(200);
    for (const name of ['embed', 'reindex', 'maintenance']) await page.getByText(name, { exact: true }).first().waitFor({ timeout: 15_000 });
    await page.goto(`${apiUrl}/admin/queues/queue/embed?status=completed`);
    await page.getByText('#3', { exact: true }).waitFor({ timeout: 15_000 });
    const text = await page.locator('body').innerText();
    // The three embed jobs of the three inserts, completed, with their record ids and results.
    expect(text).toMatch(/COMPLETED\s*\n\s*3\b/);
    for (const id of ['#1', '#2', '#3']) expect(text).toContain(id);
    expect(text).toMatch(/returnValue:\{\s*rows:1/);
    await mkdir(ARTIFACTS, { recursive: true });
    await page.screenshot({ path: `${ARTIFACTS}dashboard-embed-completed.png`, fullPage: true });
    await ctx.close();
  });
});
