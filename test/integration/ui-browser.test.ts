import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, describe, expect, it, onTestFinished } from 'vitest';
import type { Broker } from '../../src/index.js';
import { closedWith, connect, type AmqpConnection, startBroker } from '../helpers/broker.js';
import { api, get } from '../helpers/http.js';

/**
 * The web UI in a real browser: Debian's chromium driven by playwright-core
 * (never a downloaded browser). Every page load records console errors,
 * uncaught exceptions, failed requests and HTTP errors; each test ends by
 * asserting there were none, and saves a screenshot in test-artifacts/ui/.
 */

const CHROMIUM = '/usr/bin/chromium';
const ARTIFACTS = join(process.cwd(), 'test-artifacts', 'ui');
/** Page conditions are polled by playwright; generous, as the machine is shared and loaded. */
const UI_WAIT = 30_000;

let broker: Broker;
/** One browser for the file: a persistent context on a fresh profile; each page is its own tab (own sessionStorage). */
let browser: BrowserContext;
let profile: string;
let base: string;
const pages: Page[] = [];
let problems: { text: string; url: string }[] = [];
/** Problems a test provokes on purpose (matched against the request URL), cleared after each test. */
let tolerated: RegExp[] = [];
/** What the next prompt() dialogs are answered with (confirm() dialogs are accepted). */
const promptAnswers: string[] = [];

/** A new tab (its own sessionStorage, so its own login) whose every problem is recorded. */
async function newPage(width = 1280, height = 900): Promise<Page> {
  const page = await browser.newPage();
  pages.push(page);
  await page.setViewportSize({ width, height });
  page.on('console', (m) => {
    if (m.type() === 'error') problems.push({ text: `console error: ${m.text()}`, url: m.location().url });
  });
  page.on('pageerror', (e) => problems.push({ text: `uncaught: ${e.message}`, url: '' }));
  page.on('requestfailed', (r) => {
    // A poll cut short by navigating away is not a failure of the page.
    if (r.failure()?.errorText !== 'net::ERR_ABORTED') problems.push({ text: `request failed: ${r.method()} ${r.url()} ${r.failure()?.errorText}`, url: r.url() });
  });
  page.on('response', (r) => {
    if (r.status() >= 400) problems.push({ text: `HTTP ${r.status()}: ${r.request().method()} ${r.url()}`, url: r.url() });
  });
  page.on('dialog', (d) => void d.accept(d.type() === 'prompt' ? promptAnswers.shift() : undefined));
  return page;
}

async function logIn(page: Page, user: string, password: string): Promise<void> {
  await page.goto(`${base}/`);
  await page.getByLabel('User name').fill(user);
  await page.getByLabel('Password').fill(password);
  await page.getByRole('button', { name: 'Log in' }).click();
  await page.getByRole('heading', { name: 'Overview' }).waitFor();
}

async function screenshot(page: Page, name: string): Promise<void> {
  await page.screenshot({ path: join(ARTIFACTS, `${name}.png`), fullPage: true });
}

/** Polls a page condition (expect.poll's own default, one second, is too short for a 5 s refresh on a loaded machine). */
const onPage = <T>(read: () => T | Promise<T>) => expect.poll(read, { timeout: UI_WAIT, interval: 100 });

/** Opens a "Add a …" panel (a <details>) and returns its form. */
async function openForm(page: Page, name: string) {
  await page.getByText(name, { exact: true }).first().click();
  return page.getByRole('form', { name });
}

describe('web UI in chromium', () => {
  beforeAll(async () => {
    mkdirSync(ARTIFACTS, { recursive: true });
    broker = await startBroker({ management: { port: 0 }, vhosts: ['/', 'other'] });
    broker.setPermissions('guest', 'other', { configure: '.*', write: '.*', read: '.*' });
    base = `http://127.0.0.1:${broker.managementHttpPort}`;
    profile = mkdtempSync(join(tmpdir(), 'warren-chromium-'));
    browser = await chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM,
      headless: true,
      acceptDownloads: true,
      args: [
        '--headless',
        '--no-sandbox',
        '--disable-gpu',
        '--disable-quic',
        '--no-first-run',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
      ],
    });
    browser.setDefaultTimeout(UI_WAIT);
  }, 60_000);

  afterEach(async () => {
    for (const p of pages.splice(0)) await p.close();
    const seen = problems.filter((p) => !tolerated.some((re) => re.test(p.url))).map((p) => p.text);
    problems = [];
    tolerated = [];
    expect(seen).toEqual([]);
  });

  afterAll(async () => {
    await browser?.close();
    await broker?.stop();
    if (profile) rmSync(profile, { recursive: true, force: true });
  });

  it('serves the page and the whitelisted library files, without auth, and nothing else outside the API', async () => {
    const page = await fetch(`${base}/`);
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toBe('text/html; charset=utf-8');
    expect(await page.text()).toContain('<script type="importmap">');
    for (const path of ['/ui/app.js', '/ui/vendor/preact.js', '/ui/vendor/preact-hooks.js', '/ui/vendor/htm.js', '/ui/vendor/uplot.js']) {
      const r = await fetch(`${base}${path}`);
      expect(r.status, path).toBe(200);
      expect(r.headers.get('content-type')).toBe('text/javascript; charset=utf-8');
    }
    for (const path of ['/ui/../package.json', '/ui/vendor/../../package.json', '/ui/%2e%2e/package.json', '/ui/vendor/preact.js.map', '/node_modules/preact/package.json']) {
      const r = await fetch(`${base}${path}`);
      expect(r.status, path).toBe(404);
      expect(await r.json()).toEqual({ error: 'Object Not Found', reason: 'Not Found' });
    }
  });

  it('logs in, and the overview charts fill while a client publishes', async () => {
    const page = await newPage();
    await logIn(page, 'guest', 'guest');
    expect(await page.evaluate<string[]>('Object.keys(sessionStorage)')).toContain('warren.credentials');
    expect(await page.evaluate<string[]>('Object.keys(localStorage)')).toEqual([]);
    await onPage(() => page.getByTestId('node').textContent()).toBe(broker.nodeName);

    const conn = await connect(broker);
    let publishing = true;
    const publisher = (async () => {
      const ch = await conn.createConfirmChannel();
      await ch.assertQueue('ui-chart', { durable: false });
      // A second queue with a consumer that acks: deliver and ack rates too.
      await ch.assertQueue('ui-chart-consumed', { durable: false });
      const consumer = await conn.createChannel();
      await consumer.prefetch(200);
      await consumer.consume('ui-chart-consumed', (m) => m && consumer.ack(m));
      while (publishing) {
        for (let i = 0; i < 50; i++) {
          ch.sendToQueue('ui-chart', Buffer.from(`m${i}`));
          ch.sendToQueue('ui-chart-consumed', Buffer.from(`c${i}`));
        }
        await ch.waitForConfirms();
      }
    })();
    try {
      // Three samples with a publish rate, and the queued-messages chart showing the backlog.
      const rates = page.getByRole('figure', { name: 'Message rates' });
      await expect.poll(async () => Number(await rates.getAttribute('data-points')), { timeout: 60_000, interval: 100 }).toBeGreaterThanOrEqual(3);
      await expect.poll(async () => parseFloat((await rates.locator('[data-series="publish"] b').textContent())!.replace(/,/g, '')), { timeout: 60_000, interval: 100 }).toBeGreaterThan(0);
      for (const series of ['confirm', 'deliver_get', 'ack']) {
        await expect.poll(async () => parseFloat((await rates.locator(`[data-series="${series}"] b`).textContent())!.replace(/,/g, '')), { timeout: 60_000, interval: 100 }).toBeGreaterThan(0);
      }
      const queued = page.getByRole('figure', { name: 'Queued messages' });
      await expect.poll(async () => Number((await queued.locator('[data-series="ready"] b').textContent())!.replace(/,/g, '')), { timeout: 60_000, interval: 100 }).toBeGreaterThan(0);
      expect(await page.locator('[data-total="connections"]').textContent()).toBe('1');
      expect(await page.locator('[data-total="consumers"]').textContent()).toBe('1');
      expect(await page.locator('.gauge').first().textContent()).toContain('OK');
      await screenshot(page, 'overview');
    } finally {
      publishing = false;
      await publisher;
      await conn.close();
    }
  }, 120_000);

  it('creates a queue and an exchange, binds them, publishes from the UI and gets the message back', async () => {
    const page = await newPage();
    await logIn(page, 'guest', 'guest');
    await page.getByRole('link', { name: 'Queues' }).click();
    let form = await openForm(page, 'Add a queue');
    await form.getByLabel('Name', { exact: true }).fill('ui-q');
    await form.getByLabel('Message TTL (ms)').fill('600000');
    await form.getByRole('button', { name: 'Add queue' }).click();
    await page.getByText('Queue ui-q created.').waitFor();
    await page.getByRole('link', { name: 'ui-q', exact: true }).waitFor();
    expect(await get(broker, '/api/queues/%2F/ui-q')).toMatchObject({ durable: true, arguments: { 'x-queue-type': 'classic', 'x-message-ttl': 600000 } });

    await page.getByRole('link', { name: 'Exchanges' }).click();
    form = await openForm(page, 'Add an exchange');
    await form.getByLabel('Name', { exact: true }).fill('ui-x');
    await form.getByLabel('Type').selectOption('topic');
    await form.getByRole('button', { name: 'Add exchange' }).click();
    await page.getByText('Exchange ui-x created.').waitFor();
    await page.getByRole('link', { name: 'ui-x', exact: true }).click();
    await page.getByRole('heading', { name: 'Exchange ui-x' }).waitFor();
    expect(page.url()).toBe(`${base}/#/exchanges/%2F/ui-x`);

    const bind = page.getByRole('form', { name: 'Add a binding' });
    await bind.getByLabel('Destination name').fill('ui-q');
    await bind.getByLabel('Routing key').fill('orders.*');
    await bind.getByRole('button', { name: 'Bind' }).click();
    await page.getByText('Bound to queue ui-q.').waitFor();
    await page.getByRole('region', { name: 'Bindings from this exchange' }).getByRole('link', { name: 'queue ui-q' }).waitFor();

    const publish = page.getByRole('form', { name: 'Publish a message' });
    await publish.getByLabel('Routing key').fill('orders.new');
    await publish.getByLabel('Headers (name = value, one a line)').fill('source = browser\nattempt = 3');
    await publish.getByLabel('content_type').fill('text/plain');
    await publish.getByLabel('Payload', { exact: true }).fill('hello from the UI');
    await publish.getByRole('button', { name: 'Publish message' }).click();
    await page.getByText('Message published and routed.').waitFor();
    await screenshot(page, 'exchange');

    // The queue page: live count, then get the message back (requeued), then as base64 and acked.
    await page.getByRole('region', { name: 'Bindings from this exchange' }).getByRole('link', { name: 'queue ui-q' }).click();
    await page.getByRole('heading', { name: 'Queue ui-q' }).waitFor();
    await onPage(() => page.locator('[data-count="ready"]').textContent()).toBe('1');
    await page.getByRole('region', { name: 'Bindings to this queue' }).getByText('orders.*').waitFor();
    const getForm = page.getByRole('form', { name: 'Get messages' });
    await getForm.getByRole('button', { name: 'Get messages' }).click();
    await onPage(() => page.getByTestId('payload').textContent()).toBe('hello from the UI');
    const message = page.locator('.message');
    expect(await message.textContent()).toContain('orders.new');
    expect(await message.textContent()).toContain('"source":"browser"');
    expect(await message.textContent()).toContain('"attempt":3');
    await getForm.getByLabel('Ack mode').selectOption('ack_requeue_false');
    await getForm.getByLabel('Encoding').selectOption('base64');
    await getForm.getByRole('button', { name: 'Get messages' }).click();
    await onPage(() => page.getByTestId('payload').textContent()).toBe(Buffer.from('hello from the UI').toString('base64'));
    await onPage(() => message.textContent()).toContain('Redeliveredyes');
    await onPage(() => page.locator('[data-count="ready"]').textContent()).toBe('0');
    await screenshot(page, 'queue');

    // Purge.
    for (let i = 0; i < 3; i++) {
      const r = await api(broker, '/api/exchanges/%2F/amq.default/publish', { method: 'POST', body: { routing_key: 'ui-q', payload: `p${i}`, payload_encoding: 'string', properties: {} } });
      expect(r.body).toEqual({ routed: true });
    }
    await onPage(() => page.locator('[data-count="ready"]').textContent()).toBe('3');
    await page.getByRole('button', { name: 'Purge messages' }).click();
    await page.getByText('Queue purged.').waitFor();
    await onPage(() => page.locator('[data-count="ready"]').textContent()).toBe('0');
    expect(await get(broker, '/api/queues/%2F/ui-q')).toMatchObject({ messages: 0 });

    // Unbind, and delete both from the UI.
    await page.getByRole('region', { name: 'Bindings to this queue' }).getByRole('button', { name: 'Unbind' }).click();
    await page.getByText('Binding removed.').waitFor();
    expect(await get<unknown[]>(broker, '/api/exchanges/%2F/ui-x/bindings/source')).toEqual([]);
    // A refresh of the queue page already on its way when the queue goes may find it gone.
    tolerated.push(/\/api\/(queues|consumers)\/%2F\/ui-q($|\/)/);
    await page.getByRole('button', { name: 'Delete this queue' }).click();
    await page.getByRole('heading', { name: 'Queues' }).waitFor();
    expect((await api(broker, '/api/queues/%2F/ui-q')).status).toBe(404);
  }, 120_000);

  it('can be used with the keyboard alone: log in, move through the navigation, focus is visible', async () => {
    const page = await newPage();
    await page.goto(`${base}/`);
    // The user name field has the focus on arrival (once the app has rendered: keys typed before are lost).
    await onPage(() => page.evaluate<string>('document.activeElement ? document.activeElement.name || "" : ""')).toBe('user');
    await page.keyboard.type('guest');
    await page.keyboard.press('Tab');
    await page.keyboard.type('guest');
    await page.keyboard.press('Enter');
    await page.getByRole('heading', { name: 'Overview' }).waitFor();
    const focused = () => page.evaluate<string>('document.activeElement ? document.activeElement.textContent.trim() : ""');
    for (let i = 0; i < 10 && (await focused()) !== 'Queues'; i++) await page.keyboard.press('Tab');
    expect(await focused()).toBe('Queues');
    const outline = await page.evaluate<string>('getComputedStyle(document.activeElement).outlineStyle');
    expect(outline).not.toBe('none');
    await screenshot(page, 'keyboard-focus');
    await page.keyboard.press('Enter');
    await page.getByRole('heading', { name: 'Queues' }).waitFor();
    expect(page.url()).toBe(`${base}/#/queues`);
    // The new page's heading has the focus; the next Tab goes into the page, not back to the nav.
    await onPage(() => page.evaluate<string>('document.activeElement.tagName')).toBe('H1');
    expect(await focused()).toBe('Queues');
    await page.keyboard.press('Tab');
    expect(await page.evaluate<string>('document.activeElement.closest("main") ? "main" : "elsewhere"')).toBe('main');
    // Back and forward between pages.
    await page.goBack();
    await page.getByRole('heading', { name: 'Overview' }).waitFor();
    await page.goForward();
    await page.getByRole('heading', { name: 'Queues' }).waitFor();
  }, 120_000);

  it('shows API errors in words: a refused declare, a wrong password', async () => {
    expect((await api(broker, '/api/queues/%2F/ui-conflict', { method: 'PUT', body: { durable: false } })).status).toBe(201);
    const page = await newPage();
    await logIn(page, 'guest', 'guest');
    tolerated.push(/\/api\/queues\/%2F\/ui-conflict$/);
    await page.goto(`${base}/#/queues`);
    const form = await openForm(page, 'Add a queue');
    await form.getByLabel('Name', { exact: true }).fill('ui-conflict');
    await form.getByRole('button', { name: 'Add queue' }).click();
    const alert = page.getByRole('alert');
    await alert.waitFor();
    expect(await alert.textContent()).toMatch(/^Refused \(400\): 406 PRECONDITION_FAILED - inequivalent arg 'durable' for queue 'ui-conflict' in vhost '\/'/);
    await screenshot(page, 'error-in-words');

    const other = await newPage();
    tolerated.push(/\/api\/whoami$/);
    await other.goto(`${base}/`);
    await other.getByLabel('User name').fill('guest');
    await other.getByLabel('Password').fill('not the password');
    await other.getByRole('button', { name: 'Log in' }).click();
    await onPage(() => other.getByRole('alert').textContent()).toBe('Login failed: wrong user name or password.');
    expect(await other.evaluate<string[]>('Object.keys(sessionStorage)')).toEqual([]);
  }, 120_000);

  it('pages, sorts and filters 2,000 queues on the server', async () => {
    const conn = await connect(broker);
    try {
      const ch = await conn.createChannel();
      const names = Array.from({ length: 2000 }, (_, i) => `page-q-${String(i).padStart(4, '0')}`);
      await Promise.all(names.map((n) => ch.assertQueue(n, { durable: false })));
      await ch.close();
    } finally {
      await conn.close();
    }
    const page = await newPage();
    await logIn(page, 'guest', 'guest');
    await page.goto(`${base}/#/queues?name=page-q-`);
    const summary = page.getByTestId('queue-summary');
    await onPage(() => summary.textContent()).toMatch(/^\s*2,000 queues( \(of [\d,]+\))?, page 1 of 40\s*$/);
    const firstName = () => page.getByRole('region', { name: 'Queues' }).locator('tbody tr').first().locator('td').nth(1).textContent();
    expect(await firstName()).toBe('page-q-0000');

    // Refreshing in place: across two refreshes (the second request starts only after the first is
    // rendered) the table is never removed nor replaced by "Loading…", and keeps a mark set on it.
    await page.evaluate(`(() => {
      window.__flicker = [];
      new MutationObserver((list) => {
        for (const m of list) {
          for (const n of m.removedNodes) if (n.nodeType === 1 && (n.matches('table, .table-wrap') || n.querySelector('table'))) window.__flicker.push('table removed');
          for (const n of m.addedNodes) if (n.nodeType === 1 && (n.matches('.loading') || n.querySelector('.loading'))) window.__flicker.push('loading shown');
        }
      }).observe(document.body, { childList: true, subtree: true });
      document.querySelector('main table').dataset.mark = 'kept';
    })()`);
    for (let i = 0; i < 2; i++) await page.waitForRequest((r) => r.url().includes('/api/queues?'), { timeout: UI_WAIT });
    expect(await page.evaluate<string[]>('window.__flicker')).toEqual([]);
    expect(await page.locator('main table').getAttribute('data-mark')).toBe('kept');
    expect(await firstName()).toBe('page-q-0000');

    const started = Date.now();
    await page.getByRole('link', { name: 'Next' }).click();
    await onPage(firstName).toBe('page-q-0050');
    const pageTurnMs = Date.now() - started;
    expect(page.url()).toContain('page=2');
    await page.getByRole('link', { name: 'Last' }).click();
    await onPage(firstName).toBe('page-q-1950');
    expect(await page.getByRole('region', { name: 'Queues' }).locator('tbody tr').count()).toBe(50);
    // Back goes to page 2 again; reload keeps the page.
    await page.goBack();
    await onPage(firstName).toBe('page-q-0050');
    await page.reload();
    await onPage(firstName).toBe('page-q-0050');
    // Sort by name, descending, then filter by a regex.
    await page.getByRole('link', { name: 'Name ▲' }).click();
    await onPage(firstName).toBe('page-q-1999');
    const filter = page.getByRole('form', { name: 'Filter queues' });
    await filter.getByLabel('Name contains').fill('^page-q-01[0-4]');
    await filter.getByLabel('Regular expression').check();
    await filter.getByRole('button', { name: 'Filter' }).click();
    await onPage(() => summary.textContent()).toMatch(/^\s*50 queues \(of [\d,]+\), page 1 of 1\s*$/);
    expect(await firstName()).toBe('page-q-0149');
    await screenshot(page, 'queues-paged');
    expect(pageTurnMs).toBeLessThan(UI_WAIT);
    await page.setViewportSize({ width: 390, height: 844 });
    await screenshot(page, 'queues-390px');
    // At 390 px the page itself does not scroll sideways: wide tables scroll in their own box.
    expect(await page.evaluate<number>('document.documentElement.scrollWidth')).toBeLessThanOrEqual(390);
  }, 120_000);

  it('creates a user and a permission from the Admin pages; that user sees only its vhost', async () => {
    expect((await api(broker, '/api/queues/other/in-other', { method: 'PUT', body: {} })).status).toBe(201);
    expect((await api(broker, '/api/queues/%2F/in-default', { method: 'PUT', body: {} })).status).toBe(201);
    const page = await newPage();
    await logIn(page, 'guest', 'guest');
    await page.getByRole('link', { name: 'Admin' }).click();
    const add = page.getByRole('form', { name: 'Add a user' });
    await add.getByLabel('Name').fill('alice');
    await add.getByLabel('Password').fill('wonder land');
    await add.getByLabel('Tags (comma-separated)').fill('management');
    await add.getByRole('button', { name: 'Save user' }).click();
    await page.getByText('User alice saved.').waitFor();
    await page.getByRole('region', { name: 'Users' }).getByRole('cell', { name: 'alice', exact: true }).waitFor();

    await page.getByRole('link', { name: 'Permissions' }).click();
    const perm = page.getByRole('form', { name: 'Set permissions' });
    await perm.getByLabel('User').selectOption('alice');
    await perm.getByLabel('Virtual host').selectOption('other');
    await perm.getByLabel('Write regexp').fill('^in-');
    await perm.getByRole('button', { name: 'Set permissions' }).click();
    await page.getByText('Permissions of alice in other set.').waitFor();
    const row = page.getByRole('region', { name: 'Permissions' }).getByRole('row').filter({ hasText: 'alice' });
    expect(await row.textContent()).toContain('^in-');
    expect(await get(broker, '/api/permissions/other/alice')).toEqual({ user: 'alice', vhost: 'other', configure: '.*', write: '^in-', read: '.*' });
    await screenshot(page, 'admin-permissions');

    // The header's vhost picker narrows the lists to one vhost.
    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Queues' }).click();
    await page.getByRole('region', { name: 'Queues' }).getByRole('link', { name: 'in-default' }).waitFor();
    await page.getByRole('banner').getByLabel('Virtual host').selectOption('other');
    await onPage(() => page.getByRole('region', { name: 'Queues' }).getByRole('link', { name: 'in-default' }).count()).toBe(0);
    await page.getByRole('region', { name: 'Queues' }).getByRole('link', { name: 'in-other' }).waitFor();
    await page.getByRole('banner').getByLabel('Virtual host').selectOption('');
    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Admin' }).click();

    const alicePage = await newPage();
    await logIn(alicePage, 'alice', 'wonder land');
    expect(await alicePage.locator('.who .user').textContent()).toBe('alice');
    expect(await alicePage.getByRole('link', { name: 'Admin' }).count()).toBe(0);
    await alicePage.getByRole('link', { name: 'Queues' }).click();
    const table = alicePage.getByRole('region', { name: 'Queues' });
    await table.getByRole('link', { name: 'in-other' }).waitFor();
    expect(await table.getByRole('link', { name: 'in-default' }).count()).toBe(0);
    const vhostCells = await table.locator('tbody tr td:first-child').allTextContents();
    expect(new Set(vhostCells)).toEqual(new Set(['other']));
    // The picker's vhost list is polled on its own (it may answer after the queue list).
    await onPage(() => alicePage.locator('.vhost-picker option').allTextContents()).toEqual(['All', 'other']);
    await screenshot(alicePage, 'alice-queues');
    // Alice's page stops polling before her password changes under it.
    await alicePage.close();

    // Tags, password and deletion from the users list.
    await page.getByRole('heading', { name: 'Users' }).waitFor();
    promptAnswers.push('monitoring');
    await page.getByRole('button', { name: 'Set tags of alice' }).click();
    await page.getByText('Tags of alice changed.').waitFor();
    expect(await get(broker, '/api/users/alice')).toMatchObject({ tags: ['monitoring'] });
    promptAnswers.push('new secret');
    await page.getByRole('button', { name: 'Change password of alice' }).click();
    await page.getByText('Password of alice changed.').waitFor();
    expect((await api(broker, '/api/whoami', { user: 'alice', password: 'new secret' })).body).toEqual({ name: 'alice', tags: ['monitoring'] });
    await page.getByRole('button', { name: 'Delete user alice' }).click();
    await page.getByText('User alice deleted.').waitFor();
    expect((await api(broker, '/api/users/alice')).status).toBe(404);
    await onPage(() => page.getByRole('region', { name: 'Users' }).getByRole('cell', { name: 'alice', exact: true }).count()).toBe(0);
  }, 120_000);

  it('sets a policy and a vhost limit from the Admin pages; the broker applies them; clears both', async () => {
    const page = await newPage();
    await logIn(page, 'guest', 'guest');
    const mainNav = page.getByRole('navigation', { name: 'Main' });
    const adminTabs = page.getByRole('navigation', { name: 'Admin sections' });
    await mainNav.getByRole('link', { name: 'Admin' }).click();
    await adminTabs.getByRole('link', { name: 'Policies' }).click();
    const form = page.getByRole('form', { name: 'Add or update a policy' });
    await form.getByLabel('Virtual host').selectOption('/');
    await form.getByLabel('Name', { exact: true }).fill('ui-pol');
    await form.getByLabel('Pattern (regular expression)').fill('^ui-pol');
    await form.getByLabel('Apply to').selectOption('queues');
    await form.getByLabel('Priority').fill('3');
    // A definition that is not JSON is refused in words before anything is sent.
    await form.getByLabel('Definition (JSON)').fill('{max-length: 2}');
    await form.getByRole('button', { name: 'Save policy' }).click();
    await onPage(() => page.getByRole('alert').textContent()).toMatch(/^The definition is not JSON: /);
    await form.getByLabel('Definition (JSON)').fill('{"max-length": 2}');
    await form.getByRole('button', { name: 'Save policy' }).click();
    await page.getByText('Policy ui-pol saved.').waitFor();
    const row = page.getByRole('region', { name: 'Policies', exact: true }).getByRole('row').filter({ hasText: 'ui-pol' });
    await row.waitFor();
    expect(await row.textContent()).toContain('{"max-length":2}');
    expect(await get(broker, '/api/policies/%2F/ui-pol')).toEqual({ vhost: '/', name: 'ui-pol', pattern: '^ui-pol', 'apply-to': 'queues', definition: { 'max-length': 2 }, priority: 3 });

    const conn = await connect(broker);
    onTestFinished(() => conn.close());
    const ch = await conn.createConfirmChannel();
    await ch.assertQueue('ui-pol-q', { durable: false });
    for (let i = 1; i <= 5; i++) ch.sendToQueue('ui-pol-q', Buffer.from(`m${i}`));
    await ch.waitForConfirms();
    await mainNav.getByRole('link', { name: 'Queues' }).click();
    await page.getByRole('form', { name: 'Filter queues' }).getByLabel('Name contains').fill('ui-pol-q');
    await page.getByRole('button', { name: 'Filter' }).click();
    await page.getByRole('region', { name: 'Queues' }).getByRole('link', { name: 'ui-pol-q', exact: true }).click();
    await page.getByRole('heading', { name: 'Queue ui-pol-q' }).waitFor();
    await onPage(() => page.locator('[data-count="total"]').textContent()).toBe('2');
    await onPage(() => page.locator('.facts').textContent()).toContain('Policyui-pol');
    expect(await get(broker, '/api/queues/%2F/ui-pol-q')).toMatchObject({ messages: 2, policy: 'ui-pol' });
    await screenshot(page, 'queue-with-policy');

    // max-queues 0 on "/": the next queue.declare is refused with 406.
    await mainNav.getByRole('link', { name: 'Admin' }).click();
    await adminTabs.getByRole('link', { name: 'Limits' }).click();
    const limits = page.getByRole('form', { name: 'Set a virtual host limit' });
    await limits.getByLabel('Virtual host').selectOption('/');
    await limits.getByLabel('Limit').selectOption('max-queues');
    await limits.getByLabel('Value').fill('0');
    await limits.getByRole('button', { name: 'Set limit' }).click();
    await page.getByText('max-queues of / set to 0.').waitFor();
    await page.getByRole('button', { name: 'Clear max-queues of /' }).waitFor();
    expect(await get(broker, '/api/vhost-limits/%2F')).toEqual([{ vhost: '/', value: { 'max-queues': 0 } }]);
    const refusedCh = await conn.createChannel();
    const refused = closedWith(refusedCh);
    await expect(refusedCh.assertQueue('ui-pol-refused', { durable: false })).rejects.toThrow();
    const err = await refused;
    expect(err.code).toBe(406);
    expect(err.message).toContain("cannot declare queue 'ui-pol-refused': queue limit in vhost '/' (0) is reached");
    await screenshot(page, 'admin-limits');

    await page.getByRole('button', { name: 'Clear max-queues of /' }).click();
    await page.getByText('max-queues of / cleared.').waitFor();
    await page.getByRole('region', { name: 'Virtual host limits' }).getByText('No limits set.').waitFor();
    expect(await get(broker, '/api/vhost-limits')).toEqual([]);
    const allowedCh = await conn.createChannel();
    expect((await allowedCh.assertQueue('ui-pol-allowed', { durable: false })).queue).toBe('ui-pol-allowed');

    await adminTabs.getByRole('link', { name: 'Policies' }).click();
    await page.getByRole('button', { name: 'Delete policy ui-pol in /' }).click();
    await page.getByText('Policy ui-pol deleted.').waitFor();
    await page.getByRole('region', { name: 'Policies', exact: true }).getByText('No policies.').waitFor();
    expect((await api(broker, '/api/policies/%2F/ui-pol')).status).toBe(404);
    expect(await get(broker, '/api/queues/%2F/ui-pol-q')).toMatchObject({ policy: null });
  }, 120_000);

  it('closes a connection from the UI with a reason; the client gets 320', async () => {
    const conn: AmqpConnection = await (await import('amqplib')).default.connect(`amqp://guest:guest@127.0.0.1:${broker.port}`, { clientProperties: { connection_name: 'ui-victim' } });
    // amqplib reports a 320 (CONNECTION_FORCED) as the 'close' event's error, not as an 'error' event.
    const closed = new Promise<(Error & { code?: number }) | undefined>((resolve) => conn.once('close', (err?: Error) => resolve(err)));
    const ch = await conn.createChannel();
    ch.on('error', () => undefined); // it goes down with its connection below
    await ch.prefetch(7);
    await ch.assertQueue('ui-victim-q', { durable: false });
    await ch.consume('ui-victim-q', () => undefined, { consumerTag: 'victim-consumer' });
    const victim = (await get<{ name: string; client_properties: { connection_name?: string } }[]>(broker, '/api/connections')).find((c) => c.client_properties.connection_name === 'ui-victim')!;

    const page = await newPage();
    await logIn(page, 'guest', 'guest');
    // The channel list and the channel's page: its peer, prefetch and consumer.
    await page.getByRole('link', { name: 'Channels' }).click();
    const row = page.getByRole('region', { name: 'Channels' }).getByRole('row').filter({ hasText: `${victim.name} (1)` });
    await row.waitFor();
    expect(await row.textContent()).toContain(victim.name.split(' -> ')[0]);
    await row.getByRole('link').click();
    await page.getByRole('heading', { name: `Channel ${victim.name} (1)` }).waitFor();
    await onPage(() => page.locator('.facts').textContent()).toContain('7 per consumer');
    await page.getByRole('region', { name: 'Consumers' }).getByText('victim-consumer').waitFor();
    // On to its connection, in a phone-sized window.
    await page.setViewportSize({ width: 390, height: 844 });
    await page.getByRole('link', { name: victim.name, exact: true }).click();
    await page.getByRole('heading', { name: `Connection ${victim.name}` }).waitFor();
    await onPage(() => page.locator('.facts').textContent()).toContain('ui-victim');
    await screenshot(page, 'connection-390px');
    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Connections' }).click();
    await page.getByRole('link', { name: `${victim.name} (ui-victim)` }).click();
    await page.getByRole('heading', { name: `Connection ${victim.name}` }).waitFor();
    // A refresh of the connection page already on its way when the connection goes may find it gone.
    tolerated.push(/\/api\/connections\/[^/]+(\/channels)?$/);
    const form = page.getByRole('form', { name: 'Close connection' });
    await form.getByLabel('Reason (sent to the client)').fill('maintenance window');
    await form.getByRole('button', { name: 'Close connection' }).click();
    const err = await closed;
    expect(err?.code).toBe(320);
    expect(err?.message).toContain('CONNECTION_FORCED - maintenance window');
    await page.getByRole('heading', { name: 'Connections' }).waitFor();
    await onPage(() => page.getByRole('link', { name: /ui-victim/ }).count()).toBe(0);
  }, 120_000);

  it('exports definitions as a download and imports an uploaded file', async () => {
    const page = await newPage();
    await logIn(page, 'guest', 'guest');
    await page.goto(`${base}/#/admin/definitions`);
    const [download] = await Promise.all([page.waitForEvent('download'), page.getByRole('button', { name: 'Download definitions' }).click()]);
    expect(download.suggestedFilename()).toMatch(/^warren-definitions-\d{4}-\d{2}-\d{2}\.json$/);
    const exported = JSON.parse(await (await import('node:fs/promises')).readFile((await download.path())!, 'utf8'));
    expect(exported.vhosts.map((v: { name: string }) => v.name).sort()).toEqual(['/', 'other']);

    const dir = mkdtempSync(join(tmpdir(), 'warren-defs-'));
    onTestFinished(() => rmSync(dir, { recursive: true, force: true }));
    const file = join(dir, 'defs.json');
    writeFileSync(
      file,
      JSON.stringify({
        queues: [{ name: 'imported-q', vhost: 'other', durable: true, auto_delete: false, arguments: {} }],
        exchanges: [{ name: 'imported-x', vhost: 'other', type: 'fanout', durable: true, auto_delete: false, internal: false, arguments: {} }],
        bindings: [{ source: 'imported-x', vhost: 'other', destination: 'imported-q', destination_type: 'queue', routing_key: '', arguments: {} }],
      }),
    );
    await page.getByLabel('Definitions file (JSON)').setInputFiles(file);
    await page.getByRole('button', { name: 'Upload definitions' }).click();
    await page.getByText('Definitions from defs.json imported.').waitFor();
    expect(await get(broker, '/api/queues/other/imported-q')).toMatchObject({ name: 'imported-q', durable: true });
    await page.goto(`${base}/#/exchanges/other/imported-x`);
    await page.getByRole('region', { name: 'Bindings from this exchange' }).getByRole('link', { name: 'queue imported-q' }).waitFor();
    await screenshot(page, 'definitions-imported');
  }, 120_000);
});
