/**
 * The web UI in chromium (test/helpers/ui-browser.ts), second part: the
 * Admin pages (users and permissions, policies and vhost limits), closing a
 * connection, and exporting and importing definitions.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it, onTestFinished } from 'vitest';
import { closedWith, connect, type AmqpConnection } from '../helpers/broker.js';
import { api, get } from '../helpers/http.js';
import { logIn, newPage, onPage, promptAnswers, screenshot, tolerate, ui, useUiBrowser } from '../helpers/ui-browser.js';

describe('web UI in chromium: admin', () => {
  useUiBrowser();

  it('creates a user and a permission from the Admin pages; that user sees only its vhost', async () => {
    expect((await api(ui.broker, '/api/queues/other/in-other', { method: 'PUT', body: {} })).status).toBe(201);
    expect((await api(ui.broker, '/api/queues/%2F/in-default', { method: 'PUT', body: {} })).status).toBe(201);
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
    expect(await get(ui.broker, '/api/permissions/other/alice')).toEqual({ user: 'alice', vhost: 'other', configure: '.*', write: '^in-', read: '.*' });
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
    expect(await get(ui.broker, '/api/users/alice')).toMatchObject({ tags: ['monitoring'] });
    promptAnswers.push('new secret');
    await page.getByRole('button', { name: 'Change password of alice' }).click();
    await page.getByText('Password of alice changed.').waitFor();
    expect((await api(ui.broker, '/api/whoami', { user: 'alice', password: 'new secret' })).body).toEqual({ name: 'alice', tags: ['monitoring'] });
    await page.getByRole('button', { name: 'Delete user alice' }).click();
    await page.getByText('User alice deleted.').waitFor();
    expect((await api(ui.broker, '/api/users/alice')).status).toBe(404);
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
    expect(await get(ui.broker, '/api/policies/%2F/ui-pol')).toEqual({ vhost: '/', name: 'ui-pol', pattern: '^ui-pol', 'apply-to': 'queues', definition: { 'max-length': 2 }, priority: 3 });

    const conn = await connect(ui.broker);
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
    expect(await get(ui.broker, '/api/queues/%2F/ui-pol-q')).toMatchObject({ messages: 2, policy: 'ui-pol' });
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
    expect(await get(ui.broker, '/api/vhost-limits/%2F')).toEqual([{ vhost: '/', value: { 'max-queues': 0 } }]);
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
    expect(await get(ui.broker, '/api/vhost-limits')).toEqual([]);
    const allowedCh = await conn.createChannel();
    expect((await allowedCh.assertQueue('ui-pol-allowed', { durable: false })).queue).toBe('ui-pol-allowed');

    await adminTabs.getByRole('link', { name: 'Policies' }).click();
    await page.getByRole('button', { name: 'Delete policy ui-pol in /' }).click();
    await page.getByText('Policy ui-pol deleted.').waitFor();
    await page.getByRole('region', { name: 'Policies', exact: true }).getByText('No policies.').waitFor();
    expect((await api(ui.broker, '/api/policies/%2F/ui-pol')).status).toBe(404);
    expect(await get(ui.broker, '/api/queues/%2F/ui-pol-q')).toMatchObject({ policy: null });
  }, 120_000);

  it('closes a connection from the UI with a reason; the client gets 320', async () => {
    const conn: AmqpConnection = await (await import('amqplib')).default.connect(`amqp://guest:guest@127.0.0.1:${ui.broker.port}`, { clientProperties: { connection_name: 'ui-victim' } });
    // amqplib reports a 320 (CONNECTION_FORCED) as the 'close' event's error, not as an 'error' event.
    const closed = new Promise<(Error & { code?: number }) | undefined>((resolve) => conn.once('close', (err?: Error) => resolve(err)));
    const ch = await conn.createChannel();
    ch.on('error', () => undefined); // it goes down with its connection below
    await ch.prefetch(7);
    await ch.assertQueue('ui-victim-q', { durable: false });
    await ch.consume('ui-victim-q', () => undefined, { consumerTag: 'victim-consumer' });
    const victim = (await get<{ name: string; client_properties: { connection_name?: string } }[]>(ui.broker, '/api/connections')).find((c) => c.client_properties.connection_name === 'ui-victim')!;

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
    tolerate(/\/api\/connections\/[^/]+(\/channels)?$/);
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
    await page.goto(`${ui.base}/#/admin/definitions`);
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
    expect(await get(ui.broker, '/api/queues/other/imported-q')).toMatchObject({ name: 'imported-q', durable: true });
    await page.goto(`${ui.base}/#/exchanges/other/imported-x`);
    await page.getByRole('region', { name: 'Bindings from this exchange' }).getByRole('link', { name: 'queue imported-q' }).waitFor();
    await screenshot(page, 'definitions-imported');
  }, 120_000);
});
