/**
 * Definitions in RabbitMQ's format: a hand-written RabbitMQ export imports as
 * is (password hashes computed here, independently), export → import round
 * trips, everything survives a restart, and bad documents are refused with
 * the JSON path of the problem, changing nothing.
 */
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import type { Broker } from '../../src/index.js';
import { connect, startBroker, type AmqpConnection } from '../helpers/broker.js';
import { expectRefused } from '../helpers/access.js';
import { drainBodies } from '../helpers/model.js';

/** RabbitMQ's stored form, computed here: base64(salt ‖ H(salt ‖ password)). */
function rabbitHash(algorithm: 'sha256' | 'sha512' | 'md5', password: string, salt = Buffer.from([0x90, 0x8d, 0xc6, 0x0a])): string {
  return Buffer.concat([salt, createHash(algorithm).update(Buffer.concat([salt, Buffer.from(password, 'utf8')])).digest()]).toString('base64');
}

/** What `GET /api/definitions` on RabbitMQ 3.13 returns, trimmed to what matters. */
function rabbitExport(): Record<string, unknown> {
  return {
    rabbit_version: '3.13.7',
    rabbitmq_version: '3.13.7',
    product_name: 'RabbitMQ',
    product_version: '3.13.7',
    users: [
      { name: 'ops', password_hash: rabbitHash('sha256', 'ops-secret'), hashing_algorithm: 'rabbit_password_hashing_sha256', tags: ['administrator'], limits: {} },
      { name: 'app', password_hash: rabbitHash('sha512', 'app-secret'), hashing_algorithm: 'rabbit_password_hashing_sha512', tags: 'monitoring,management', limits: {} },
      { name: 'legacy', password_hash: rabbitHash('md5', 'legacy-secret'), hashing_algorithm: 'rabbit_password_hashing_md5', tags: [], limits: {} },
      { name: 'cert-only', password_hash: '', hashing_algorithm: 'rabbit_password_hashing_sha256', tags: [], limits: {} },
    ],
    vhosts: [
      { name: '/', description: 'Default virtual host', tags: [], metadata: { description: 'Default virtual host', tags: [] } },
      { name: 'orders', description: 'Orders', tags: ['prod'], metadata: { description: 'Orders', tags: ['prod'] }, default_queue_type: 'classic' },
    ],
    permissions: [
      { user: 'ops', vhost: '/', configure: '.*', write: '.*', read: '.*' },
      { user: 'ops', vhost: 'orders', configure: '.*', write: '.*', read: '.*' },
      { user: 'app', vhost: 'orders', configure: '^app\\.', write: '^(app\\.|orders\\.events)', read: '^app\\.' },
      { user: 'legacy', vhost: '/', configure: '.*', write: '.*', read: '.*' },
      { user: 'cert-only', vhost: '/', configure: '.*', write: '.*', read: '.*' },
    ],
    topic_permissions: [{ user: 'app', vhost: 'orders', exchange: 'orders.events', write: '^{username}\\.', read: '.*' }],
    parameters: [],
    global_parameters: [{ name: 'cluster_name', value: 'rabbit@prod' }],
    policies: [{ vhost: 'orders', name: 'ttl', pattern: '^app\\.', 'apply-to': 'queues', definition: { 'message-ttl': 60000 }, priority: 0 }],
    queues: [{ name: 'app.inbox', vhost: 'orders', durable: true, auto_delete: false, arguments: { 'x-queue-type': 'classic', 'x-max-length': 1000 } }],
    exchanges: [{ name: 'orders.events', vhost: 'orders', type: 'topic', durable: true, auto_delete: false, internal: false, arguments: {} }],
    bindings: [{ source: 'orders.events', vhost: 'orders', destination: 'app.inbox', destination_type: 'queue', routing_key: 'app.#', arguments: {} }],
  };
}

const dirs: string[] = [];
const brokers: Broker[] = [];
const conns: AmqpConnection[] = [];
const tempDir = (): string => {
  const d = mkdtempSync(join(tmpdir(), 'warren-defs-'));
  dirs.push(d);
  return d;
};
async function start(options: Parameters<typeof startBroker>[0] = {}): Promise<Broker> {
  const b = await startBroker(options);
  brokers.push(b);
  return b;
}
async function open(b: Broker, user: string, password: string, vhost?: string): Promise<AmqpConnection> {
  const c = await connect(b, { user, password, vhost });
  c.on('error', () => {});
  conns.push(c);
  return c;
}

afterEach(async () => {
  await Promise.allSettled(conns.splice(0).map((c) => c.close()));
  await Promise.allSettled(brokers.splice(0).map((b) => b.stop()));
});
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

describe('import of a RabbitMQ export', () => {
  it('users log in with their RabbitMQ password hashes (sha256, sha512, md5); objects, permissions and topic permissions apply', async () => {
    const b = await start({ definitions: rabbitExport() });
    expect(b.listUsers().map((u) => [u.name, u.tags]).sort()).toEqual([['app', ['monitoring', 'management']], ['cert-only', []], ['legacy', []], ['ops', ['administrator']]]);
    // No guest when definitions bring users.
    await expect(connect(b, { user: 'guest', password: 'guest' })).rejects.toThrow();
    (await open(b, 'ops', 'ops-secret')).on('error', () => {});
    await open(b, 'legacy', 'legacy-secret');
    await expect(connect(b, { user: 'ops', password: 'wrong' })).rejects.toThrow();
    await expect(connect(b, { user: 'cert-only', password: '' })).rejects.toThrow();
    const app = await open(b, 'app', 'app-secret', 'orders');
    const ch = await app.createChannel();
    ch.on('error', () => {});
    ch.publish('orders.events', 'app.created', Buffer.from('order 1'));
    expect(await drainBodies(ch, 'app.inbox')).toEqual(['order 1']);
    await expectRefused(ch, () => ch.publish('orders.events', 'ops.created', Buffer.from('no')), "ACCESS_REFUSED - write access to topic 'ops.created' in exchange 'orders.events' in vhost 'orders' refused for user 'app'");
    expect(b.queues('orders').find((q) => q.name === 'app.inbox')?.arguments).toEqual({ 'x-queue-type': 'classic', 'x-max-length': 1000 });
    expect(b.listVhosts().find((v) => v.name === 'orders')).toEqual({ name: 'orders', description: 'Orders', tags: ['prod'] });
  });

  it('a file without hashing_algorithm is MD5 when written by RabbitMQ 3.0–3.5, SHA-256 otherwise', async () => {
    const old = { rabbit_version: '3.5.7', users: [{ name: 'old', password_hash: rabbitHash('md5', 'pw'), tags: 'administrator' }], vhosts: [{ name: '/' }], permissions: [{ user: 'old', vhost: '/', configure: '.*', write: '.*', read: '.*' }] };
    const b = await start({ definitions: old });
    await open(b, 'old', 'pw');
    expect(b.connections().map((c) => [c.user, c.state])).toEqual([['old', 'running']]);
    const recent = { rabbit_version: '3.8.0', users: [{ name: 'new', password_hash: rabbitHash('sha256', 'pw'), tags: '' }], vhosts: [{ name: '/' }], permissions: [{ user: 'new', vhost: '/', configure: '.*', write: '.*', read: '.*' }] };
    b.importDefinitions(recent);
    await open(b, 'new', 'pw');
    expect(b.connections().map((c) => c.user).sort()).toEqual(['new', 'old']);
  });

  it('imports from a file path, merging: an existing queue that differs is left alone', async () => {
    const dir = tempDir();
    const path = join(dir, 'defs.json');
    writeFileSync(path, JSON.stringify(rabbitExport()));
    const b = await start({ definitions: path });
    const different = rabbitExport();
    (different.queues as { arguments: Record<string, unknown> }[])[0]!.arguments = { 'x-max-length': 5 };
    b.importDefinitions(different);
    expect(b.queues('orders').find((q) => q.name === 'app.inbox')?.arguments).toEqual({ 'x-queue-type': 'classic', 'x-max-length': 1000 });
  });

  it('export → import round-trips (hashes, not passwords)', async () => {
    const a = await start({ definitions: rabbitExport() });
    a.addUser('added', 'added-pw', ['policymaker']);
    a.setPermissions('added', 'orders', { configure: '^a', write: '^b', read: '^c' });
    const exported = a.exportDefinitions();
    expect(JSON.stringify(exported)).not.toContain('added-pw');
    const b = await start({ definitions: exported });
    const strip = (d: Record<string, unknown>): Record<string, unknown> => {
      const sorted: Record<string, unknown> = {};
      for (const [k, v] of Object.entries(d)) sorted[k] = Array.isArray(v) ? [...v].map((x) => JSON.stringify(x)).sort() : v;
      return sorted;
    };
    expect(strip(b.exportDefinitions())).toEqual(strip(exported));
    await open(b, 'added', 'added-pw', 'orders');
  });
});

describe('durability of users, vhosts and permissions', () => {
  it('survive a restart; a deleted guest stays deleted', async () => {
    const dataDir = tempDir();
    const a = await start({ dataDir, fsync: false });
    a.createVhost('tenant');
    a.addUser('carol', 'carol-pw', ['impersonator']);
    a.setPermissions('carol', 'tenant', { configure: '^c\\.', write: '.*', read: '.*' });
    a.setTopicPermissions('carol', 'tenant', 'amq.topic', { write: '^c\\.', read: '.*' });
    const c = await open(a, 'carol', 'carol-pw', 'tenant');
    const ch = await c.createChannel();
    await ch.assertQueue('c.durable', { durable: true });
    ch.sendToQueue('c.durable', Buffer.from('kept'), { persistent: true });
    await ch.close();
    await a.deleteUser('guest');
    await a.stop();

    const b = await start({ dataDir, fsync: false });
    expect(b.listUsers().map((u) => u.name)).toEqual(['carol']);
    const again = await open(b, 'carol', 'carol-pw', 'tenant');
    const ch2 = await again.createChannel();
    ch2.on('error', () => {});
    expect(await drainBodies(ch2, 'c.durable')).toEqual(['kept']);
    await expectRefused(ch2, () => ch2.publish('amq.topic', 'd.x', Buffer.from('no')), "ACCESS_REFUSED - write access to topic 'd.x' in exchange 'amq.topic' in vhost 'tenant' refused for user 'carol'");
    expect(b.exportDefinitions().topic_permissions).toEqual([{ user: 'carol', vhost: 'tenant', exchange: 'amq.topic', write: '^c\\.', read: '.*' }]);
  });

  it('a deleted vhost stays deleted, with its queues and stored messages', async () => {
    const dataDir = tempDir();
    const a = await start({ dataDir, fsync: false });
    a.createVhost('gone');
    a.setPermissions('guest', 'gone', { configure: '.*', write: '.*', read: '.*' });
    const c = await open(a, 'guest', 'guest', 'gone');
    const ch = await c.createConfirmChannel();
    await ch.assertQueue('q', { durable: true });
    ch.sendToQueue('q', Buffer.from('m'), { persistent: true });
    await ch.waitForConfirms();
    await a.deleteVhost('gone');
    await a.stop();
    const b = await start({ dataDir, fsync: false });
    expect(b.listVhosts().map((v) => v.name)).toEqual(['/']);
    expect(b.exportDefinitions().permissions).toEqual([{ user: 'guest', vhost: '/', configure: '.*', write: '.*', read: '.*' }]);
  });
});

describe('bad definitions', () => {
  it('a malformed regular expression is refused naming the path, user and vhost; nothing is applied', async () => {
    const b = await start();
    const doc = rabbitExport();
    (doc.permissions as Record<string, string>[])[2]!.write = '^(app';
    expect(() => b.importDefinitions(doc)).toThrow(/^\$\.permissions\[2\]\.write: invalid regular expression '\^\(app': .* \(user 'app', vhost 'orders'\)$/);
    expect(b.listUsers().map((u) => u.name)).toEqual(['guest']);
    expect(b.listVhosts().map((v) => v.name)).toEqual(['/']);
  });

  it('an unknown hashing algorithm is refused naming the path', async () => {
    const b = await start();
    const doc = rabbitExport();
    (doc.users as Record<string, unknown>[])[1]!.hashing_algorithm = 'rabbit_password_hashing_bcrypt';
    expect(() => b.importDefinitions(doc)).toThrow('$.users[1].hashing_algorithm: unknown hashing algorithm "rabbit_password_hashing_bcrypt" for user \'app\'');
    await expect(start({ definitions: doc })).rejects.toThrow('$.users[1].hashing_algorithm');
  });

  it('references to unknown vhosts, wrong types and broken hashes are refused with their paths', async () => {
    const b = await start();
    expect(() => b.importDefinitions({ permissions: [{ user: 'guest', vhost: 'nope', configure: '', write: '', read: '' }] })).toThrow("$.permissions[0].vhost: vhost 'nope' is neither in the file nor on the broker");
    expect(() => b.importDefinitions({ queues: [{ name: 'q', vhost: '/', durable: 'yes' }] })).toThrow('$.queues[0].durable: expected true or false');
    expect(() => b.importDefinitions({ users: [{ name: 'x', password_hash: 'not base64!', hashing_algorithm: 'rabbit_password_hashing_sha256' }] })).toThrow('$.users[0].password_hash');
    expect(() => b.importDefinitions({ exchanges: [{ name: 'x', vhost: '/', type: 'bogus' }] })).toThrow("$.exchanges[0].type: unknown exchange type 'bogus'");
    expect(() => b.importDefinitions([] as unknown as Record<string, unknown>)).toThrow('$: expected a JSON object');
  });

  it('bindings to missing objects and invalid queue arguments are refused before anything is applied', async () => {
    const b = await start();
    const dangling = rabbitExport();
    (dangling.bindings as Record<string, string>[])[0]!.destination = 'no.such.queue';
    expect(() => b.importDefinitions(dangling)).toThrow("$.bindings[0].destination: queue 'no.such.queue' in vhost 'orders' is neither in the file nor on the broker");
    const badArgs = rabbitExport();
    (badArgs.queues as { arguments: Record<string, unknown> }[])[0]!.arguments = { 'x-max-length': 'lots' };
    expect(() => b.importDefinitions(badArgs)).toThrow(/^\$\.queues\[0\]\.arguments: PRECONDITION_FAILED - invalid arg 'x-max-length'/);
    expect(b.listUsers().map((u) => u.name)).toEqual(['guest']);
    expect(b.listVhosts().map((v) => v.name)).toEqual(['/']);
    // The standard exchanges exist in every vhost, new ones included.
    b.importDefinitions({ vhosts: [{ name: 'fresh' }], queues: [{ name: 'q', vhost: 'fresh', durable: true, auto_delete: false, arguments: {} }], bindings: [{ source: 'amq.topic', vhost: 'fresh', destination: 'q', destination_type: 'queue', routing_key: '#', arguments: {} }] });
    expect(b.bindings('fresh').filter((x) => x.source === 'amq.topic')).toHaveLength(1);
  });
});
