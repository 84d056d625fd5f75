import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { Broker } from '../../src/index.js';
import { connect, eventually, startBroker, type AmqpConnection } from '../helpers/broker.js';
import { api, get } from '../helpers/http.js';

type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
type Channel = Awaited<ReturnType<AmqpConnection['createChannel']>>;
type ConfirmChannel = Awaited<ReturnType<AmqpConnection['createConfirmChannel']>>;

const putPolicy = (b: Broker, name: string, body: unknown, vhost = '%2F', base = 'policies') => api(b, `/api/${base}/${vhost}/${encodeURIComponent(name)}`, { method: 'PUT', body });
const deletePolicy = (b: Broker, name: string, base = 'policies') => api(b, `/api/${base}/%2F/${encodeURIComponent(name)}`, { method: 'DELETE' });

/** Publishes `n` messages (confirmed, so all are enqueued) to a queue. */
async function fill(cc: ConfirmChannel, queue: string, n: number, body = 'm'): Promise<void> {
  for (let i = 0; i < n; i++) cc.sendToQueue(queue, Buffer.from(`${body}${i}`));
  await cc.waitForConfirms();
}

/** A fanout exchange with `queue` bound to it: whatever reaches the exchange lands in the queue. */
async function catchAll(ch: Channel, exchange: string, queue: string): Promise<void> {
  await ch.assertExchange(exchange, 'fanout');
  await ch.assertQueue(queue);
  await ch.bindQueue(queue, exchange, '');
}

async function depth(ch: Channel, queue: string): Promise<number> {
  return (await ch.checkQueue(queue)).messageCount;
}

/** Policies and operator policies over the management API, observed through real AMQP clients. */
describe('policies and operator policies', () => {
  let broker: Broker;
  let conn: AmqpConnection;
  let ch: Channel;
  let cc: ConfirmChannel;
  beforeAll(async () => {
    broker = await startBroker({ management: { port: 0 } });
    conn = await connect(broker);
    ch = await conn.createChannel();
    cc = await conn.createConfirmChannel();
  });
  afterAll(async () => {
    await conn.close().catch(() => undefined);
    await broker.stop();
  });
  afterEach(async () => {
    for (const base of ['policies', 'operator-policies']) {
      for (const p of await get<Json[]>(broker, `/api/${base}`)) await deletePolicy(broker, p.name, base);
    }
  });

  it('max-length applies at once to an existing queue and to new ones; removal restores the queue\'s own arguments', async () => {
    await ch.assertQueue('ml.old');
    await fill(cc, 'ml.old', 5);
    expect(await depth(ch, 'ml.old')).toBe(5);
    expect((await putPolicy(broker, 'cap', { pattern: '^ml\\.', definition: { 'max-length': 2 }, 'apply-to': 'queues' })).status).toBe(201);
    expect(await depth(ch, 'ml.old')).toBe(2); // the oldest three were dropped at once
    const [first] = await ch.get('ml.old', { noAck: true }).then((m) => [m && m.content.toString()]);
    expect(first).toBe('m3');
    const view = await get<Json>(broker, '/api/queues/%2F/ml.old');
    expect(view).toMatchObject({ policy: 'cap', operator_policy: null, effective_policy_definition: { 'max-length': 2 } });

    await ch.assertQueue('ml.new');
    await fill(cc, 'ml.new', 4);
    expect(await depth(ch, 'ml.new')).toBe(2);

    expect((await putPolicy(broker, 'cap', { pattern: '^ml\\.', definition: { 'max-length': 3 }, 'apply-to': 'queues' })).status).toBe(204);
    await fill(cc, 'ml.new', 4);
    expect(await depth(ch, 'ml.new')).toBe(3);

    expect((await deletePolicy(broker, 'cap')).status).toBe(204);
    expect((await deletePolicy(broker, 'cap')).status).toBe(404);
    await fill(cc, 'ml.new', 4);
    expect(await depth(ch, 'ml.new')).toBe(7);
    expect(await get<Json>(broker, '/api/queues/%2F/ml.new')).toMatchObject({ policy: null, operator_policy: null, effective_policy_definition: {} });
    await ch.deleteQueue('ml.old');
    await ch.deleteQueue('ml.new');
  });

  it('max-length-bytes and overflow reject-publish: confirms are nacked once full', async () => {
    await ch.assertQueue('mlb.q');
    expect((await putPolicy(broker, 'bytes', { pattern: '^mlb\\.', definition: { 'max-length-bytes': 10 } })).status).toBe(201);
    await fill(cc, 'mlb.q', 3, 'abcd'); // 5 bytes each: only two fit
    expect(await depth(ch, 'mlb.q')).toBe(2);
    await putPolicy(broker, 'bytes', { pattern: '^mlb\\.', definition: { 'max-length': 1, overflow: 'reject-publish' } });
    expect(await depth(ch, 'mlb.q')).toBe(2); // reject-publish does not drop what is there
    await ch.purgeQueue('mlb.q');
    const outcomes = await Promise.all([0, 1].map((i) => new Promise<boolean>((resolve) => cc.sendToQueue('mlb.q', Buffer.from(`x${i}`), {}, (err) => resolve(err === null || err === undefined)))));
    expect(outcomes).toEqual([true, false]);
    expect(await depth(ch, 'mlb.q')).toBe(1);
    await ch.deleteQueue('mlb.q');
  });

  it('message-ttl expires messages enqueued after it applies; expires deletes an unused queue', async () => {
    await ch.assertQueue('ttl.q');
    expect((await putPolicy(broker, 'ttl', { pattern: '^ttl\\.', definition: { 'message-ttl': 50 } })).status).toBe(201);
    await fill(cc, 'ttl.q', 3);
    await eventually(async () => (await depth(ch, 'ttl.q')) === 0, 10_000, 'messages expired by the policy TTL');

    await ch.assertQueue('exp.q');
    expect((await putPolicy(broker, 'exp', { pattern: '^exp\\.', definition: { expires: 100 } })).status).toBe(201);
    await eventually(async () => (await api(broker, '/api/queues/%2F/exp.q')).status === 404, 10_000, 'queue expired by the policy');
    await ch.deleteQueue('ttl.q');
  });

  it('dead-letter-exchange and dead-letter-routing-key route rejected messages', async () => {
    await ch.assertExchange('dlx.policy', 'direct');
    await ch.assertQueue('dlx.dead');
    await ch.bindQueue('dlx.dead', 'dlx.policy', 'dead-key');
    await ch.assertQueue('dl.src');
    expect((await putPolicy(broker, 'dl', { pattern: '^dl\\.', definition: { 'dead-letter-exchange': 'dlx.policy', 'dead-letter-routing-key': 'dead-key' } })).status).toBe(201);
    await fill(cc, 'dl.src', 1, 'doomed');
    const m = await ch.get('dl.src');
    expect(m).not.toBe(false);
    ch.nack(m as Exclude<typeof m, false>, false, false);
    await eventually(async () => (await depth(ch, 'dlx.dead')) === 1, 10_000, 'dead-lettered message');
    const dead = await ch.get('dlx.dead', { noAck: true });
    expect(dead && dead.content.toString()).toBe('doomed0');
    expect(dead && dead.fields.routingKey).toBe('dead-key');
    expect(dead && dead.properties.headers?.['x-death']?.[0]).toMatchObject({ queue: 'dl.src', reason: 'rejected' });
    await ch.deleteQueue('dl.src');
  });

  it('delivery-limit on a quorum queue: a message returned too often is dead-lettered', async () => {
    await catchAll(ch, 'dlx.limit', 'limit.dead');
    await ch.assertQueue('dlim.q', { durable: true, arguments: { 'x-queue-type': 'quorum' } });
    expect((await putPolicy(broker, 'dlim', { pattern: '^dlim\\.', definition: { 'delivery-limit': 1, 'dead-letter-exchange': 'dlx.limit' }, 'apply-to': 'quorum_queues' })).status).toBe(201);
    expect((await get<Json>(broker, '/api/queues/%2F/dlim.q')).policy).toBe('dlim');
    await fill(cc, 'dlim.q', 1);
    for (let i = 0; i < 2; i++) {
      const m = await ch.get('dlim.q');
      expect(m).not.toBe(false);
      ch.nack(m as Exclude<typeof m, false>, false, true);
    }
    await eventually(async () => (await depth(ch, 'limit.dead')) === 1, 10_000, 'message over the delivery limit dead-lettered');
    expect(await depth(ch, 'dlim.q')).toBe(0);
    await ch.deleteQueue('dlim.q');
  });

  it('alternate-exchange applies to existing exchanges; the exchange\'s own argument wins', async () => {
    await ch.assertExchange('ae.src', 'direct');
    await ch.assertExchange('ae.own', 'direct', { arguments: { 'alternate-exchange': 'ae.other' } });
    await catchAll(ch, 'ae.sink', 'ae.caught');
    await catchAll(ch, 'ae.other', 'ae.other.caught');
    expect((await putPolicy(broker, 'ae', { pattern: '^ae\\.(src|own)$', definition: { 'alternate-exchange': 'ae.sink' }, 'apply-to': 'exchanges' })).status).toBe(201);
    expect((await get<Json>(broker, '/api/exchanges/%2F/ae.src')).policy).toBe('ae');
    cc.publish('ae.src', 'nowhere', Buffer.from('lost?'));
    cc.publish('ae.own', 'nowhere', Buffer.from('mine'));
    await cc.waitForConfirms();
    expect(await depth(ch, 'ae.caught')).toBe(1);
    expect(await depth(ch, 'ae.other.caught')).toBe(1);
    await deletePolicy(broker, 'ae');
    cc.publish('ae.src', 'nowhere', Buffer.from('dropped'));
    await cc.waitForConfirms();
    expect(await depth(ch, 'ae.caught')).toBe(1);
    expect((await get<Json>(broker, '/api/exchanges/%2F/ae.src')).policy).toBeNull();
  });

  it('precedence: the lower numeric limit wins between argument and policy; the argument wins for dead-lettering', async () => {
    await catchAll(ch, 'prec.argdlx', 'prec.arg.dead');
    await catchAll(ch, 'prec.poldlx', 'prec.pol.dead');
    await ch.assertQueue('prec.q', { arguments: { 'x-max-length': 3, 'x-dead-letter-exchange': 'prec.argdlx' } });
    await putPolicy(broker, 'prec', { pattern: '^prec\\.q$', definition: { 'max-length': 5, 'dead-letter-exchange': 'prec.poldlx' } });
    await fill(cc, 'prec.q', 6);
    expect(await depth(ch, 'prec.q')).toBe(3); // the argument's 3 < the policy's 5
    // The three dropped by max-length went to the argument's dead-letter exchange.
    await eventually(async () => (await depth(ch, 'prec.arg.dead')) === 3, 10_000, 'dropped messages dead-lettered');
    expect(await depth(ch, 'prec.pol.dead')).toBe(0);
    await putPolicy(broker, 'prec', { pattern: '^prec\\.q$', definition: { 'max-length': 1 } });
    expect(await depth(ch, 'prec.q')).toBe(1); // now the policy's 1 < 3
    await deletePolicy(broker, 'prec');
    await fill(cc, 'prec.q', 5);
    expect(await depth(ch, 'prec.q')).toBe(3); // back to the argument alone
    await ch.deleteQueue('prec.q');
  });

  it('priority: the highest-priority matching policy applies', async () => {
    await ch.assertQueue('prio.q');
    await putPolicy(broker, 'low', { pattern: '^prio\\.', definition: { 'max-length': 1 }, priority: 1 });
    await putPolicy(broker, 'high', { pattern: '^prio\\.q$', definition: { 'max-length': 3 }, priority: 5 });
    await fill(cc, 'prio.q', 5);
    expect(await depth(ch, 'prio.q')).toBe(3);
    expect((await get<Json>(broker, '/api/queues/%2F/prio.q')).policy).toBe('high');
    await deletePolicy(broker, 'high');
    expect(await depth(ch, 'prio.q')).toBe(1);
    expect((await get<Json>(broker, '/api/queues/%2F/prio.q')).policy).toBe('low');
    const one = await get<Json>(broker, '/api/policies/%2F/low');
    expect(one).toEqual({ vhost: '/', name: 'low', pattern: '^prio\\.', 'apply-to': 'all', definition: { 'max-length': 1 }, priority: 1 });
    expect(await get<Json[]>(broker, '/api/policies/%2F')).toEqual([one]);
    await ch.deleteQueue('prio.q');
  });

  it('operator policies cap the numeric limits of policies and arguments', async () => {
    await ch.assertQueue('op.q', { arguments: { 'x-max-length': 10 } });
    await putPolicy(broker, 'user', { pattern: '^op\\.', definition: { 'max-length': 8, 'message-ttl': 600_000 } });
    expect((await putPolicy(broker, 'cap', { pattern: '^op\\.', definition: { 'max-length': 2, 'message-ttl': 900_000 }, 'apply-to': 'queues' }, '%2F', 'operator-policies')).status).toBe(201);
    await fill(cc, 'op.q', 5);
    expect(await depth(ch, 'op.q')).toBe(2);
    const view = await get<Json>(broker, '/api/queues/%2F/op.q');
    expect(view).toMatchObject({ policy: 'user', operator_policy: 'cap', effective_policy_definition: { 'max-length': 2, 'message-ttl': 600_000 } });
    expect(await get<Json[]>(broker, '/api/operator-policies')).toEqual([{ vhost: '/', name: 'cap', pattern: '^op\\.', 'apply-to': 'queues', definition: { 'max-length': 2, 'message-ttl': 900_000 }, priority: 0 }]);
    // Operator policies take only limits.
    const bad = await putPolicy(broker, 'bad', { pattern: '.*', definition: { 'dead-letter-exchange': 'x' } }, '%2F', 'operator-policies');
    expect(bad.status).toBe(400);
    expect(bad.body).toEqual({ error: 'bad_request', reason: 'Validation failed\n\n[{<<"dead-letter-exchange">>,<<"x">>}] are not recognised policy settings\n' });
    await deletePolicy(broker, 'cap', 'operator-policies');
    await fill(cc, 'op.q', 10);
    expect(await depth(ch, 'op.q')).toBe(8);
    await ch.deleteQueue('op.q');
  });

  it('unknown or invalid definition keys: 400 with RabbitMQ\'s text, nothing changes', async () => {
    const unknown = await putPolicy(broker, 'bad', { pattern: '.*', definition: { 'max-length': 1, foo: 'bar', 'ha-mode': 'all' } });
    expect(unknown.status).toBe(400);
    expect(unknown.body).toEqual({ error: 'bad_request', reason: 'Validation failed\n\n[{<<"foo">>,<<"bar">>}] are not recognised policy settings\n' });
    const negative = await putPolicy(broker, 'bad', { pattern: '.*', definition: { 'max-length': -1 } });
    expect(negative.status).toBe(400);
    expect((negative.body as Json).reason).toBe('Validation failed\n\n-1 is not a valid maximum length\n');
    expect((await putPolicy(broker, 'bad', { pattern: '.*', definition: { 'max-length': 1 }, 'apply-to': 'topics' })).status).toBe(400);
    expect((await putPolicy(broker, 'bad', { pattern: '(', definition: { 'max-length': 1 } })).status).toBe(400);
    expect(await get<Json[]>(broker, '/api/policies')).toEqual([]);
    expect((await api(broker, '/api/policies/nope/p', { method: 'PUT', body: { pattern: '.*', definition: { 'max-length': 1 } } })).status).toBe(404);
  });

  it('a management user without the policymaker tag may not set policies; a policymaker may', async () => {
    broker.addUser('mgr', 'pw', ['management']);
    broker.setPermissions('mgr', '/', { configure: '.*', write: '.*', read: '.*' });
    broker.addUser('pm', 'pw', ['policymaker']);
    broker.setPermissions('pm', '/', { configure: '.*', write: '.*', read: '.*' });
    const body = { pattern: '^none$', definition: { 'max-length': 1 } };
    const refused = await api(broker, '/api/policies/%2F/p', { method: 'PUT', body, user: 'mgr', password: 'pw' });
    expect(refused.status).toBe(401);
    expect(await api(broker, '/api/policies/%2F/p', { method: 'PUT', body, user: 'pm', password: 'pw' })).toMatchObject({ status: 201 });
    expect((await api(broker, '/api/operator-policies/%2F/p', { method: 'PUT', body, user: 'pm', password: 'pw' })).status).toBe(401);
  });
});

describe('policies and limits: durable, and in definitions', () => {
  const dirs: string[] = [];
  afterAll(() => {
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });

  it('survive a restart and apply to the restored queues', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'warren-policies-'));
    dirs.push(dataDir);
    let broker = await startBroker({ management: { port: 0 }, dataDir, fsync: false });
    await putPolicy(broker, 'keep', { pattern: '^kept$', definition: { 'max-length': 2 }, priority: 3 });
    await putPolicy(broker, 'opcap', { pattern: '^kept$', definition: { 'max-length': 1 } }, '%2F', 'operator-policies');
    await putPolicy(broker, 'gone', { pattern: '^x$', definition: { 'max-length': 2 } });
    await deletePolicy(broker, 'gone');
    expect((await api(broker, '/api/vhost-limits/%2F/max-queues', { method: 'PUT', body: { value: 50 } })).status).toBe(204);
    expect((await api(broker, '/api/user-limits/guest/max-channels', { method: 'PUT', body: { value: 40 } })).status).toBe(204);
    let conn = await connect(broker);
    const ch = await conn.createConfirmChannel();
    await ch.assertQueue('kept', { durable: true });
    for (let i = 0; i < 3; i++) ch.sendToQueue('kept', Buffer.from(`p${i}`), { persistent: true });
    await ch.waitForConfirms();
    await conn.close();
    await broker.stop();

    broker = await startBroker({ management: { port: 0 }, dataDir, fsync: false });
    try {
      expect((await get<Json[]>(broker, '/api/policies')).map((p) => p.name)).toEqual(['keep']);
      expect(await get<Json[]>(broker, '/api/operator-policies')).toHaveLength(1);
      expect(await get<Json>(broker, '/api/queues/%2F/kept')).toMatchObject({ policy: 'keep', operator_policy: 'opcap', messages: 1, effective_policy_definition: { 'max-length': 1 } });
      expect(await get<Json[]>(broker, '/api/vhost-limits')).toEqual([{ vhost: '/', value: { 'max-queues': 50 } }]);
      expect(await get<Json[]>(broker, '/api/user-limits/guest')).toEqual([{ user: 'guest', value: { 'max-channels': 40 } }]);
      conn = await connect(broker);
      const c2 = await conn.createConfirmChannel();
      for (let i = 0; i < 3; i++) c2.sendToQueue('kept', Buffer.from(`q${i}`));
      await c2.waitForConfirms();
      // Published while the queue pages to disk: the limit drops them once their records are written.
      await eventually(async () => (await c2.checkQueue('kept')).messageCount === 1, 10_000, 'the capped queue back at one message');
      await conn.close();
    } finally {
      await broker.stop();
    }
  });

  it('a hand-written RabbitMQ export: policies, operator_policy and vhost-limits parameters and user limits are applied', async () => {
    const b = await startBroker({ management: { port: 0 } });
    try {
      const doc = {
        rabbit_version: '3.13.7',
        users: [{ name: 'app', password_hash: '', hashing_algorithm: 'rabbit_password_hashing_sha256', tags: [], limits: { 'max-channels': 3 } }],
        vhosts: [{ name: 'prod', metadata: { description: '', tags: [] } }],
        permissions: [{ user: 'guest', vhost: 'prod', configure: '.*', write: '.*', read: '.*' }],
        parameters: [
          { vhost: 'prod', component: 'operator_policy', name: 'cap', value: { pattern: '^work', definition: [['max-length', 2]], priority: 0, 'apply-to': 'queues' } },
          { vhost: 'prod', component: 'vhost-limits', name: 'limits', value: { 'max-queues': 10 } },
          { vhost: 'prod', component: 'shovel', name: 's', value: { 'src-uri': 'amqp://' } },
        ],
        policies: [{ vhost: 'prod', name: 'ttl', pattern: '^work', 'apply-to': 'queues', definition: { 'max-length': 5, 'message-ttl': 60000 }, priority: 1 }],
        queues: [{ name: 'work', vhost: 'prod', durable: true, auto_delete: false, arguments: {} }],
        exchanges: [],
        bindings: [],
      };
      expect((await api(b, '/api/definitions', { method: 'POST', body: doc })).status).toBeLessThan(300);
      expect(await get<Json>(b, '/api/queues/prod/work')).toMatchObject({ policy: 'ttl', operator_policy: 'cap', effective_policy_definition: { 'max-length': 2, 'message-ttl': 60000 } });
      expect(await get<Json[]>(b, '/api/vhost-limits/prod')).toEqual([{ vhost: 'prod', value: { 'max-queues': 10 } }]);
      expect(await get<Json[]>(b, '/api/user-limits/app')).toEqual([{ user: 'app', value: { 'max-channels': 3 } }]);
      const conn = await connect(b, { vhost: 'prod' });
      const c = await conn.createConfirmChannel();
      for (let i = 0; i < 5; i++) c.sendToQueue('work', Buffer.from(`w${i}`));
      await c.waitForConfirms();
      expect((await c.checkQueue('work')).messageCount).toBe(2);
      await conn.close();
    } finally {
      await b.stop();
    }
  });

  it('export → import → export is identical, in RabbitMQ\'s format', async () => {
    const a = await startBroker({ management: { port: 0 } });
    const b = await startBroker({ management: { port: 0 } });
    try {
      await putPolicy(a, 'p1', { pattern: '^a', definition: { 'max-length': 5, 'dead-letter-exchange': 'dlx' }, 'apply-to': 'queues', priority: 2 });
      await putPolicy(a, 'op1', { pattern: '^a', definition: { 'message-ttl': 1000 } }, '%2F', 'operator-policies');
      await api(a, '/api/vhost-limits/%2F/max-connections', { method: 'PUT', body: { value: 100 } });
      await api(a, '/api/user-limits/guest/max-connections', { method: 'PUT', body: { value: 7 } });
      const exported = await get<Json>(a, '/api/definitions');
      expect(exported.policies).toEqual([{ vhost: '/', name: 'p1', pattern: '^a', 'apply-to': 'queues', definition: { 'max-length': 5, 'dead-letter-exchange': 'dlx' }, priority: 2 }]);
      expect(exported.parameters).toEqual([
        { vhost: '/', component: 'operator_policy', name: 'op1', value: { pattern: '^a', 'apply-to': 'all', definition: { 'message-ttl': 1000 }, priority: 0 } },
        { vhost: '/', component: 'vhost-limits', name: 'limits', value: { 'max-connections': 100 } },
      ]);
      expect(exported.users.find((u: Json) => u.name === 'guest').limits).toEqual({ 'max-connections': 7 });
      expect((await api(b, '/api/definitions', { method: 'POST', body: exported })).status).toBeLessThan(300);
      const again = await get<Json>(b, '/api/definitions');
      for (const key of ['policies', 'parameters', 'users']) expect(again[key]).toEqual(exported[key]);
      // A bad policy in a document changes nothing.
      const bad = await api(b, '/api/definitions', { method: 'POST', body: { policies: [{ vhost: '/', name: 'x', pattern: '.*', definition: { nope: 1 } }] } });
      expect(bad.status).toBe(400);
      expect((await get<Json[]>(b, '/api/policies')).map((p) => p.name)).toEqual(['p1']);
    } finally {
      await a.stop();
      await b.stop();
    }
  });
});
