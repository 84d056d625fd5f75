/**
 * The web UI in chromium (test/helpers/ui-browser.ts), first part: the page
 * and its files, logging in and the overview, creating and using queues and
 * exchanges, the keyboard alone, errors in words, and server-side paging of
 * 2,000 queues. The Admin pages are ui-admin.test.ts.
 */
import { describe, expect, it } from 'vitest';
import { connect } from '../helpers/broker.js';
import { api, get } from '../helpers/http.js';
import { UI_WAIT, logIn, newPage, onPage, openForm, screenshot, tolerate, ui, useUiBrowser } from '../helpers/ui-browser.js';

describe('web UI in chromium', () => {
  useUiBrowser();

  it('serves the page and the whitelisted library files, without auth, and nothing else outside the API', async () => {
    const page = await fetch(`${ui.base}/`);
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toBe('text/html; charset=utf-8');
    expect(await page.text()).toContain('<script type="importmap">');
    for (const path of ['/ui/app.js', '/ui/vendor/preact.js', '/ui/vendor/preact-hooks.js', '/ui/vendor/htm.js', '/ui/vendor/uplot.js']) {
      const r = await fetch(`${ui.base}${path}`);
      expect(r.status, path).toBe(200);
      expect(r.headers.get('content-type')).toBe('text/javascript; charset=utf-8');
    }
    for (const path of ['/ui/../package.json', '/ui/vendor/../../package.json', '/ui/%2e%2e/package.json', '/ui/vendor/preact.js.map', '/node_modules/preact/package.json']) {
      const r = await fetch(`${ui.base}${path}`);
      expect(r.status, path).toBe(404);
      expect(await r.json()).toEqual({ error: 'Object Not Found', reason: 'Not Found' });
    }
  });

  it('logs in, and the overview charts fill while a client publishes', async () => {
    const page = await newPage();
    await logIn(page, 'guest', 'guest');
    expect(await page.evaluate<string[]>('Object.keys(sessionStorage)')).toContain('warren.credentials');
    expect(await page.evaluate<string[]>('Object.keys(localStorage)')).toEqual([]);
    await onPage(() => page.getByTestId('node').textContent()).toBe(ui.broker.nodeName);

    const conn = await connect(ui.broker);
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
    expect(await get(ui.broker, '/api/queues/%2F/ui-q')).toMatchObject({ durable: true, arguments: { 'x-queue-type': 'classic', 'x-message-ttl': 600000 } });

    await page.getByRole('link', { name: 'Exchanges' }).click();
    form = await openForm(page, 'Add an exchange');
    await form.getByLabel('Name', { exact: true }).fill('ui-x');
    await form.getByLabel('Type').selectOption('topic');
    await form.getByRole('button', { name: 'Add exchange' }).click();
    await page.getByText('Exchange ui-x created.').waitFor();
    await page.getByRole('link', { name: 'ui-x', exact: true }).click();
    await page.getByRole('heading', { name: 'Exchange ui-x' }).waitFor();
    expect(page.url()).toBe(`${ui.base}/#/exchanges/%2F/ui-x`);

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
      const r = await api(ui.broker, '/api/exchanges/%2F/amq.default/publish', { method: 'POST', body: { routing_key: 'ui-q', payload: `p${i}`, payload_encoding: 'string', properties: {} } });
      expect(r.body).toEqual({ routed: true });
    }
    await onPage(() => page.locator('[data-count="ready"]').textContent()).toBe('3');
    await page.getByRole('button', { name: 'Purge messages' }).click();
    await page.getByText('Queue purged.').waitFor();
    await onPage(() => page.locator('[data-count="ready"]').textContent()).toBe('0');
    expect(await get(ui.broker, '/api/queues/%2F/ui-q')).toMatchObject({ messages: 0 });

    // Unbind, and delete both from the UI.
    await page.getByRole('region', { name: 'Bindings to this queue' }).getByRole('button', { name: 'Unbind' }).click();
    await page.getByText('Binding removed.').waitFor();
    expect(await get<unknown[]>(ui.broker, '/api/exchanges/%2F/ui-x/bindings/source')).toEqual([]);
    // A refresh of the queue page already on its way when the queue goes may find it gone.
    tolerate(/\/api\/(queues|consumers)\/%2F\/ui-q($|\/)/);
    await page.getByRole('button', { name: 'Delete this queue' }).click();
    await page.getByRole('heading', { name: 'Queues' }).waitFor();
    expect((await api(ui.broker, '/api/queues/%2F/ui-q')).status).toBe(404);
  }, 120_000);

  it('can be used with the keyboard alone: log in, move through the navigation, focus is visible', async () => {
    const page = await newPage();
    await page.goto(`${ui.base}/`);
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
    expect(page.url()).toBe(`${ui.base}/#/queues`);
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
    expect((await api(ui.broker, '/api/queues/%2F/ui-conflict', { method: 'PUT', body: { durable: false } })).status).toBe(201);
    const page = await newPage();
    await logIn(page, 'guest', 'guest');
    tolerate(/\/api\/queues\/%2F\/ui-conflict$/);
    await page.goto(`${ui.base}/#/queues`);
    const form = await openForm(page, 'Add a queue');
    await form.getByLabel('Name', { exact: true }).fill('ui-conflict');
    await form.getByRole('button', { name: 'Add queue' }).click();
    const alert = page.getByRole('alert');
    await alert.waitFor();
    expect(await alert.textContent()).toMatch(/^Refused \(400\): 406 PRECONDITION_FAILED - inequivalent arg 'durable' for queue 'ui-conflict' in vhost '\/'/);
    await screenshot(page, 'error-in-words');

    const other = await newPage();
    tolerate(/\/api\/whoami$/);
    await other.goto(`${ui.base}/`);
    await other.getByLabel('User name').fill('guest');
    await other.getByLabel('Password').fill('not the password');
    await other.getByRole('button', { name: 'Log in' }).click();
    await onPage(() => other.getByRole('alert').textContent()).toBe('Login failed: wrong user name or password.');
    expect(await other.evaluate<string[]>('Object.keys(sessionStorage)')).toEqual([]);
  }, 120_000);

  it('pages, sorts and filters 2,000 queues on the server', async () => {
    const conn = await connect(ui.broker);
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
    await page.goto(`${ui.base}/#/queues?name=page-q-`);
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
});
