import { existsSync, mkdirSync, readdirSync, statSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { MongoClient } from 'mongodb';
import { chromium, type Browser, type Page } from 'playwright-core';
import { build } from 'vite';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DASHBOARD_DIR } from '../../src/api/dashboard-static.js';
import { ApiKeyStore } from '../../src/store/api-key-store.js';
import { WebhookStore } from '../../src/store/webhook-store.js';
import { mongodbUri } from '../helpers/servers.js';
import { startTestService, type TestService } from '../helpers/service.js';

const CHROMIUM = '/usr/bin/chromium';
const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-quic', '--no-first-run', '--disable-component-update', '--disable-sync'];
const root = fileURLToPath(new URL('../..', import.meta.url));
// Test artefacts by default; UPDATE_SCREENSHOTS=1 refreshes the ones the README shows.
const shots = path.join(root, process.env.UPDATE_SCREENSHOTS === '1' ? 'docs/screenshots' : 'test-results/screenshots');
// 1 attempt + 2 retries a second apart: a failing endpoint reaches `failed` within seconds.
const RETRY_SCHEDULE = '1s,1s';

/** A local endpoint that answers 200, or 500 while `failing` is set, and records what it got. */
async function startReceiver() {
  const received: Array<{ path: string; headers: http.IncomingHttpHeaders; body: string }> = [];
  const state = { failing: false };
  const server = http.createServer(async (req, res) => {
    let body = '';
    for await (const chunk of req) body += chunk;
    received.push({ path: req.url ?? '', headers: req.headers, body });
    if (state.failing && req.url?.startsWith('/flaky')) res.writeHead(500, { 'content-type': 'text/plain' }).end('receiver is down for maintenance');
    else res.writeHead(200, { 'content-type': 'application/json' }).end('{"ok":true}');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  afterAll(() => new Promise((resolve) => server.close(resolve)));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, received, state };
}

/** Rebuilds the bundle only when web/ changed since the last build (npm run build normally made it). */
async function ensureDashboardBuilt(): Promise<void> {
  const index = path.join(DASHBOARD_DIR, 'index.html');
  const newest = (dir: string): number =>
    Math.max(...readdirSync(dir, { withFileTypes: true }).map((e) => (e.isDirectory() ? newest(path.join(dir, e.name)) : statSync(path.join(dir, e.name)).mtimeMs)));
  if (existsSync(index) && statSync(index).mtimeMs >= newest(path.join(root, 'web'))) return;
  await build({ configFile: path.join(root, 'web/vite.config.ts'), logLevel: 'warn' });
}

describe('dashboard in Chromium', () => {
  let svc: TestService;
  let key: string;
  let browser: Browser;
  let page: Page;
  let receiver: Awaited<ReturnType<typeof startReceiver>>;

  beforeAll(async () => {
    if (!existsSync(CHROMIUM)) {
      throw new Error(`No browser at ${CHROMIUM}. Install Debian's Chromium with "apt-get update && apt-get install -y chromium"; these tests never download one.`);
    }
    mkdirSync(shots, { recursive: true });
    await ensureDashboardBuilt();
    svc = await startTestService('dashboard', { WEBHOOKS_RETRY_SCHEDULE: RETRY_SCHEDULE });
    const mongo = await MongoClient.connect(mongodbUri());
    key = (await new ApiKeyStore(mongo.db(svc.config.mongodbDatabase)).create('dashboard-e2e', 'browser test')).key;
    await mongo.close();
    receiver = await startReceiver();

    const shell = await fetch(`${svc.baseUrl}/dashboard/`);
    if (!shell.ok || !(shell.headers.get('content-type') ?? '').startsWith('text/html')) {
      throw new Error(`GET /dashboard/ answered ${shell.status}: the API server must route requests through serveDashboard (src/api/dashboard-static.ts)`);
    }
    browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
    page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    page.setDefaultTimeout(20_000);
  });

  afterAll(async () => {
    await browser?.close();
  });

  const shot = (name: string) => page.screenshot({ path: path.join(shots, name), fullPage: true });
  const publishEvent = async (type: string, data: Record<string, unknown>) => {
    const res = await fetch(`${svc.baseUrl}/v1/events`, {
      method: 'POST',
      headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
      body: JSON.stringify({ type, agent: 'support-bot', data }),
    });
    expect(res.status, await res.clone().text()).toBe(200);
    return ((await res.json()) as { id: string }).id;
  };

  async function createWebhook(url: string, events: 'all' | string[], description: string, screenshot = ''): Promise<string> {
    await page.getByRole('link', { name: 'Add webhook' }).click();
    await page.getByLabel('Endpoint URL').fill(url);
    if (events === 'all') await page.getByLabel('All event types').check();
    else for (const type of events) await page.getByLabel(type, { exact: true }).check();
    await page.getByLabel('Description (optional)').fill(description);
    if (screenshot) await shot(`${screenshot}-form.png`);
    await page.getByRole('button', { name: 'Create webhook' }).click();
    const secret = await page.getByRole('textbox', { name: 'Signing secret' }).inputValue();
    expect(secret).toMatch(/^whsec_[A-Za-z0-9_-]{32,}$/);
    await expectVisible(page.getByText('It will not be shown again'));
    if (screenshot) await shot(`${screenshot}-secret.png`);
    return secret;
  }

  it('refuses a wrong key with a clear message and signs in with a good one', async () => {
    await page.goto(`${svc.baseUrl}/dashboard/`);
    await page.getByLabel('API key').fill(`hum_sk_live_${'x'.repeat(40)}`);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await expectVisible(page.getByRole('alert').filter({ hasText: 'That API key was not accepted' }));

    await page.getByLabel('API key').fill(key);
    await page.keyboard.press('Enter');
    await expectVisible(page.getByRole('heading', { name: 'Webhooks', exact: true }));
    expect(await page.evaluate('Object.values(sessionStorage)')).toEqual([key]);
  });

  it('creates a webhook, shows its secret once, and shows a delivery succeed', async () => {
    await createWebhook(`${receiver.url}/ok`, ['sms.received', 'call.ended'], 'CRM sync', 'create-webhook');
    await page.getByRole('link', { name: /continue/ }).click();
    await expectVisible(page.getByRole('heading', { name: 'Deliveries' }));

    const eventId = await publishEvent('sms.received', { from: '+15550100', text: 'hello' });
    // Auto-refresh brings the row in and moves it to succeeded without a reload.
    await page.locator('tr.row-succeeded', { hasText: 'sms.received' }).waitFor({ timeout: 45_000 });
    const hit = receiver.received.find((r) => r.path === '/ok' && r.body.includes(eventId));
    expect(hit?.headers['x-humiris-signature']).toMatch(/^t=\d+,v1=[0-9a-f]{64}/);
  });

  it('shows a failing endpoint turn failed, then a Replay succeed without a reload', async () => {
    receiver.state.failing = true;
    await page.getByRole('link', { name: 'Humiris Webhooks' }).click();
    await createWebhook(`${receiver.url}/flaky`, 'all', 'Billing (flaky)');
    await page.getByRole('link', { name: /continue/ }).click();
    await expectVisible(page.getByRole('heading', { name: 'Deliveries' }));

    await publishEvent('card.decline', { amount: 1250, currency: 'EUR', reason: 'insufficient_funds' });
    const failedRow = page.locator('tr.row-failed', { hasText: 'card.decline' });
    await failedRow.waitFor({ timeout: 60_000 });
    // The 24 h chart counts it too (it refreshes on its own, slower cadence).
    await page.locator('.legend li', { hasText: /failed\s*1$/ }).waitFor({ timeout: 30_000 });
    await shot('webhook-deliveries.png');
    await page.getByLabel('Status').selectOption('failed');
    await failedRow.waitFor();

    await page.getByRole('link', { name: 'Humiris Webhooks' }).click();
    await expectVisible(page.getByRole('link', { name: `${receiver.url}/flaky` }));
    await shot('webhook-list.png');
    await page.goBack();

    await page.getByLabel('Status').selectOption('failed');
    await failedRow.getByRole('link').click();
    await expectVisible(page.locator('.page-head .badge', { hasText: 'failed' }));
    const attempts = page.locator('table.attempts tbody tr');
    expect(await attempts.count()).toBe(3);
    await expectVisible(page.getByText('receiver is down for maintenance').first());

    receiver.state.failing = false;
    await page.getByRole('button', { name: 'Replay' }).click();
    await expectVisible(page.getByText(/Replay succeeded: HTTP 200/), 30_000);
    await expectVisible(page.locator('.page-head .badge', { hasText: 'succeeded' }));
    expect(await attempts.count()).toBe(4);
    await shot('delivery-detail-replay.png');
  });

  it('recovers the failed deliveries since a chosen time, showing the job and its counts', async () => {
    receiver.state.failing = true;
    await page.getByRole('link', { name: 'Humiris Webhooks' }).click();
    await createWebhook(`${receiver.url}/flaky-ledger`, ['wallet.transfer.in'], 'Ledger (recovered)');
    await page.getByRole('link', { name: /continue/ }).click();
    await expectVisible(page.getByRole('heading', { name: 'Deliveries' }));

    for (let i = 0; i < 3; i++) await publishEvent('wallet.transfer.in', { amount: 100 + i, currency: 'EUR' });
    const failedRows = page.locator('tr.row-failed', { hasText: 'wallet.transfer.in' });
    await expect.poll(() => failedRows.count(), { timeout: 90_000, interval: 500 }).toBe(3);

    receiver.state.failing = false;
    const toLedger = () => receiver.received.filter((r) => r.path === '/flaky-ledger');
    const sentBefore = toLedger().length;
    // Ten minutes ago, in the browser's own time zone, as the picker takes it.
    const since = await page.evaluate<string>(
      "(() => { const d = new Date(Date.now() - 600000); const p = (n) => String(n).padStart(2, '0'); return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())}T${p(d.getHours())}:${p(d.getMinutes())}`; })()",
    );
    await page.getByLabel('Recover failed deliveries since').fill(since);
    await page.getByRole('button', { name: 'Recover failed deliveries' }).click();
    const done = page.getByText(/Recovery rcv_[0-9A-Za-z]{24} done: 3 found, 3 queued, 0 skipped/);
    await expectVisible(done, 60_000);
    const succeededRows = page.locator('tr.row-succeeded', { hasText: 'wallet.transfer.in' });
    await expect.poll(() => succeededRows.count(), { timeout: 60_000, interval: 500 }).toBe(3);
    // The 24 h chart (slower refresh) counts them too before the picture is taken.
    await page.locator('.legend li', { hasText: /succeeded\s*3$/ }).waitFor({ timeout: 30_000 });
    await shot('webhook-recovery.png');
    const recovered = toLedger().slice(sentBefore);
    expect(recovered).toHaveLength(3);
    expect(new Set(recovered.map((r) => r.headers['x-humiris-delivery'])).size).toBe(3);
    expect(recovered.every((r) => r.headers['x-humiris-attempt'] === '4')).toBe(true);

    // The same time again is the same job: shown as it ended, nothing sent twice.
    const jobText = await done.textContent();
    await page.getByRole('button', { name: 'Recover failed deliveries' }).click();
    await expectVisible(page.getByText(jobText!.split(':')[0]!));
    await new Promise((resolve) => setTimeout(resolve, 1_500));
    expect(toLedger().length).toBe(sentBefore + 3);
    // Longer than its steps' own waits together, so that a failure names the step that waited.
  }, 250_000);

  it('shows why the service disabled a webhook, until it is enabled again', async () => {
    const webhookId = /whk_[0-9A-Za-z]{24}/.exec(page.url())?.[0];
    expect(webhookId).toBeDefined();
    const mongo = await MongoClient.connect(mongodbUri());
    try {
      const reason = 'every delivery failed for 5 days (12 failed deliveries)';
      const disabled = await new WebhookStore(mongo.db(svc.config.mongodbDatabase)).disableFor('dashboard-e2e', webhookId!, reason, new Date());
      expect(disabled?.status).toBe('disabled');
    } finally {
      await mongo.close();
    }
    await page.reload();
    await expectVisible(page.locator('.page-head .badge', { hasText: 'disabled' }));
    await expectVisible(page.getByText(/Disabled by the service on \d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}: every delivery failed for 5 days \(12 failed deliveries\)/));
    await shot('webhook-disabled-reason.png');

    await page.getByRole('button', { name: 'Enable' }).click();
    await expectVisible(page.locator('.page-head .badge', { hasText: 'active' }));
    expect(await page.getByText('Disabled by the service').count()).toBe(0);
  });

  it('edits, disables and enables, rotates the secret, sends a test event and deletes with confirmation', async () => {
    await page.getByRole('link', { name: 'Humiris Webhooks' }).click();
    const first = await createWebhook(`${receiver.url}/ok?temp=1`, ['email.sent'], 'Temporary');
    await page.getByRole('link', { name: /continue/ }).click();

    await page.getByRole('link', { name: 'Edit' }).click();
    await page.getByLabel('email.bounced', { exact: true }).check();
    await page.getByLabel('Only one agent').check();
    await page.getByLabel('Agent', { exact: true }).fill('support-bot');
    await page.getByLabel('Description (optional)').fill('Temporary, edited');
    await page.getByRole('button', { name: 'Save changes' }).click();
    await expectVisible(page.getByText('email.sent, email.bounced'));
    await expectVisible(page.getByText('Temporary, edited'));

    await page.getByRole('button', { name: 'Disable' }).click();
    await expectVisible(page.locator('.page-head .badge', { hasText: 'disabled' }));
    expect(await page.getByRole('button', { name: 'Send test event' }).isDisabled()).toBe(true);
    await page.getByRole('button', { name: 'Enable' }).click();
    await expectVisible(page.locator('.page-head .badge', { hasText: 'active' }));

    await page.getByRole('button', { name: 'Rotate secret' }).click();
    await page.getByRole('dialog').getByRole('button', { name: 'Rotate secret' }).click();
    const rotated = await page.getByRole('textbox', { name: 'Signing secret' }).inputValue();
    expect(rotated).toMatch(/^whsec_/);
    expect(rotated).not.toBe(first);

    await page.getByRole('button', { name: 'Send test event' }).click();
    await expectVisible(page.getByText('Test event queued as'));
    await page.locator('tr.row-succeeded', { hasText: 'webhook.test' }).waitFor({ timeout: 30_000 });

    await page.getByRole('button', { name: 'Delete' }).click();
    await expectVisible(page.getByRole('dialog', { name: 'Delete this webhook?' }));
    // Escape cancels: nothing is deleted.
    await page.keyboard.press('Escape');
    await page.getByRole('dialog').waitFor({ state: 'hidden' });
    await page.getByRole('button', { name: 'Delete' }).click();
    await page.getByRole('dialog').getByRole('button', { name: 'Delete webhook' }).click();
    await expectVisible(page.getByRole('heading', { name: 'Webhooks', exact: true }));
    await expectVisible(page.getByRole('link', { name: `${receiver.url}/ok`, exact: true }));
    expect(await page.getByRole('link', { name: `${receiver.url}/ok?temp=1` }).count()).toBe(0);
  });

  it('fits a phone screen and signs out', async () => {
    await page.setViewportSize({ width: 390, height: 844 });
    await page.getByRole('link', { name: 'Humiris Webhooks' }).click();
    await expectVisible(page.getByRole('link', { name: `${receiver.url}/ok`, exact: true }));
    const overflow = await page.evaluate<number>('document.documentElement.scrollWidth - window.innerWidth');
    expect(overflow).toBeLessThanOrEqual(0);
    await shot('webhook-list-phone.png');

    await page.getByRole('button', { name: 'Sign out' }).click();
    await expectVisible(page.getByLabel('API key'));
    expect(await page.evaluate('sessionStorage.length')).toBe(0);
  });
});

async function expectVisible(locator: ReturnType<Page['locator']>, timeout?: number): Promise<void> {
  await locator.waitFor({ state: 'visible', timeout });
}
