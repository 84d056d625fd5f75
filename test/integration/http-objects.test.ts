import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Broker } from '../../src/index.js';
import { connect, eventually, startBroker, type AmqpConnection } from '../helpers/broker.js';
import { WAIT_MS } from '../helpers/wait.js';
import { api, get } from '../helpers/http.js';

type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

/** Exchanges, queues, bindings and messages through the management API: reads, writes, paging, errors. */
describe('management HTTP API: objects', () => {
  let broker: Broker;
  let conn: AmqpConnection;
  beforeAll(async () => {
    broker = await startBroker({ management: { port: 0 }, vhosts: ['/', 'dev'] });
    broker.setPermissions('guest', 'dev', { configure: '.*', write: '.*', read: '.*' });
    conn = await connect(broker);
  });
  afterAll(async () => {
    await conn.close().catch(() => undefined);
    await broker.stop();
  });

  it('PUT and DELETE queues: 201 created, 204 unchanged, 400 for a different declaration, if-empty / if-unused', async () => {
    expect((await api(broker, '/api/queues/%2F/orders', { method: 'PUT', body: { durable: true, arguments: { 'x-max-length': 10 } } })).status).toBe(201);
    expect((await api(broker, '/api/queues/%2F/orders', { method: 'PUT', body: { durable: true, arguments: { 'x-max-length': 10 } } })).status).toBe(204);
    const clash = await api(broker, '/api/queues/%2F/orders', { method: 'PUT', body: { durable: false } });
    expect(clash.status).toBe(400);
    expect(clash.body).toEqual({ error: 'bad_request', reason: expect.stringMatching(/^406 PRECONDITION_FAILED - inequivalent arg 'durable'/) });

    const q = await get<Json>(broker, '/api/queues/%2F/orders');
    expect(q).toMatchObject({ name: 'orders', vhost: '/', durable: true, auto_delete: false, exclusive: false, arguments: { 'x-max-length': 10 }, type: 'classic', state: 'running', messages: 0, messages_ready: 0, messages_unacknowledged: 0, consumers: 0, message_bytes: 0, policy: null, effective_policy_definition: {} });
    expect(typeof q.node).toBe('string');
    expect(typeof q.idle_since).toBe('string');
    expect(q.consumer_utilisation).toBeNull();
    expect(q.head_message_timestamp).toBeNull();

    const ch = await conn.createChannel();
    ch.sendToQueue('orders', Buffer.from('hello'), { timestamp: 1700000000 });
    await eventually(async () => (await get<Json>(broker, '/api/queues/%2F/orders')).messages === 1, WAIT_MS, 'one message');
    const full = await get<Json>(broker, '/api/queues/%2F/orders');
    expect(full).toMatchObject({ messages: 1, messages_ready: 1, message_bytes: 5, message_bytes_ready: 5, head_message_timestamp: 1700000000 });
    const notEmpty = await api(broker, '/api/queues/%2F/orders?if-empty=true', { method: 'DELETE' });
    expect(notEmpty.status).toBe(400);
    expect((notEmpty.body as Json).reason).toBe("406 PRECONDITION_FAILED - queue 'orders' in vhost '/' not empty");
    await ch.consume('orders', () => undefined);
    const used = await api(broker, '/api/queues/%2F/orders?if-unused=true', { method: 'DELETE' });
    expect((used.body as Json).reason).toBe("406 PRECONDITION_FAILED - queue 'orders' in vhost '/' in use");
    expect((await api(broker, '/api/queues/%2F/orders', { method: 'DELETE' })).status).toBe(204);
    expect((await api(broker, '/api/queues/%2F/orders')).status).toBe(404);
    expect((await api(broker, '/api/queues/%2F/orders', { method: 'DELETE' })).body).toEqual({ error: 'Object Not Found', reason: 'Not Found' });
    await ch.close().catch(() => undefined);
  });

  it('PUT and DELETE exchanges (if-unused), reserved names refused', async () => {
    expect((await api(broker, '/api/exchanges/%2F/events', { method: 'PUT', body: { type: 'topic', durable: true } })).status).toBe(201);
    const x = await get<Json>(broker, '/api/exchanges/%2F/events');
    expect(x).toEqual(expect.objectContaining({ name: 'events', vhost: '/', type: 'topic', durable: true, auto_delete: false, internal: false, arguments: {} }));
    const badType = await api(broker, '/api/exchanges/%2F/odd', { method: 'PUT', body: { type: 'nonsense' } });
    expect(badType.status).toBe(400);
    expect((badType.body as Json).reason).toBe("503 COMMAND_INVALID - unknown exchange type 'nonsense'");
    const reserved = await api(broker, '/api/exchanges/%2F/amq.custom', { method: 'PUT', body: { type: 'direct' } });
    expect(reserved.status).toBe(401);
    expect((reserved.body as Json).error).toBe('not_authorised');
    expect((await api(broker, '/api/queues/%2F/audit', { method: 'PUT', body: {} })).status).toBe(201);
    expect((await api(broker, '/api/bindings/%2F/e/events/q/audit', { method: 'POST', body: { routing_key: 'a.#' } })).status).toBe(201);
    const inUse = await api(broker, '/api/exchanges/%2F/events?if-unused=true', { method: 'DELETE' });
    expect((inUse.body as Json).reason).toBe("406 PRECONDITION_FAILED - exchange 'events' in vhost '/' in use");
    expect((await api(broker, '/api/exchanges/%2F/events', { method: 'DELETE' })).status).toBe(204);
    expect((await api(broker, '/api/exchanges/%2F/events')).status).toBe(404);
    expect((await api(broker, '/api/queues/%2F/audit', { method: 'DELETE' })).status).toBe(204);
  });

  it('bindings: POST answers 201 with a Location ending in the properties key; GET and DELETE by that key', async () => {
    await api(broker, '/api/exchanges/%2F/logs', { method: 'PUT', body: { type: 'direct' } });
    await api(broker, '/api/queues/%2F/errors', { method: 'PUT', body: {} });
    const plain = await api(broker, '/api/bindings/%2F/e/logs/q/errors', { method: 'POST', body: { routing_key: 'error' } });
    expect(plain.status).toBe(201);
    expect(plain.headers.get('location')).toBe('/api/bindings/%2F/e/logs/q/errors/error');
    const withArgs = await api(broker, '/api/bindings/%2F/e/logs/q/errors', { method: 'POST', body: { routing_key: 'error', arguments: { level: 3 } } });
    const loc = withArgs.headers.get('location')!;
    expect(loc).toMatch(/^\/api\/bindings\/%2F\/e\/logs\/q\/errors\/error~.+$/);

    const list = await get<Json[]>(broker, '/api/bindings/%2F/e/logs/q/errors');
    expect(list.map((b) => b.properties_key).sort()).toEqual(['error', loc.split('/').pop()].sort());
    expect(list[0]).toMatchObject({ source: 'logs', vhost: '/', destination: 'errors', destination_type: 'queue', routing_key: 'error' });
    const qb = await get<Json[]>(broker, '/api/queues/%2F/errors/bindings');
    expect(qb[0]).toMatchObject({ source: '', destination: 'errors', routing_key: 'errors' });
    expect(qb).toHaveLength(3);
    expect(await get<Json[]>(broker, '/api/exchanges/%2F/logs/bindings/source')).toHaveLength(2);
    expect(await get<Json[]>(broker, '/api/exchanges/%2F/logs/bindings/destination')).toHaveLength(0);
    expect((await get<Json>(broker, loc)).arguments).toEqual({ level: 3 });

    expect((await api(broker, loc, { method: 'DELETE' })).status).toBe(204);
    expect((await api(broker, loc)).status).toBe(404);
    expect(await get<Json[]>(broker, '/api/bindings/%2F/e/logs/q/errors')).toHaveLength(1);
    expect((await api(broker, '/api/bindings/%2F/e/logs/q/missing', { method: 'POST', body: {} })).status).toBe(404);
    expect((await api(broker, '/api/bindings/%2F/e/logs/x/errors', { method: 'POST', body: {} })).status).toBe(404);
  });

  it('publish answers {routed}; get returns messages with ackmode, encoding and truncate; purge empties the queue', async () => {
    await api(broker, '/api/queues/%2F/inbox', { method: 'PUT', body: {} });
    const routed = await api(broker, '/api/exchanges/%2F/amq.default/publish', { method: 'POST', body: { routing_key: 'inbox', payload: 'hello world', payload_encoding: 'string', properties: { headers: { k: 'v' }, delivery_mode: 2, content_type: 'text/plain' } } });
    expect(routed.status).toBe(200);
    expect(routed.body).toEqual({ routed: true });
    const binary = Buffer.from([0xff, 0x00, 0xfe]);
    await api(broker, '/api/exchanges/%2F/amq.default/publish', { method: 'POST', body: { routing_key: 'inbox', payload: binary.toString('base64'), payload_encoding: 'base64', properties: {} } });
    expect((await api(broker, '/api/exchanges/%2F/amq.default/publish', { method: 'POST', body: { routing_key: 'nowhere', payload: 'x', payload_encoding: 'string', properties: {} } })).body).toEqual({ routed: false });

    const peek = await api(broker, '/api/queues/%2F/inbox/get', { method: 'POST', body: { count: 5, ackmode: 'ack_requeue_true', encoding: 'auto', truncate: 5 } });
    expect(peek.status).toBe(200);
    const msgs = peek.body as Json[];
    expect(msgs).toHaveLength(2);
    expect(msgs[0]).toEqual({ payload_bytes: 11, redelivered: false, exchange: '', routing_key: 'inbox', message_count: 1, properties: { headers: { k: 'v' }, delivery_mode: 2, content_type: 'text/plain' }, payload: 'hello', payload_encoding: 'string' });
    expect(msgs[1]).toMatchObject({ payload_bytes: 3, payload: binary.toString('base64'), payload_encoding: 'base64', message_count: 0 });
    // Requeued: still there, now redelivered.
    const again = await api(broker, '/api/queues/%2F/inbox/get', { method: 'POST', body: { count: 1, ackmode: 'ack_requeue_false', encoding: 'base64' } });
    expect((again.body as Json[])[0]).toMatchObject({ redelivered: true, payload: Buffer.from('hello world').toString('base64'), payload_encoding: 'base64' });
    expect((await get<Json>(broker, '/api/queues/%2F/inbox')).messages).toBe(1);
    expect((await api(broker, '/api/queues/%2F/inbox/get', { method: 'POST', body: { count: 1, ackmode: 'bogus', encoding: 'auto' } })).status).toBe(400);

    expect((await api(broker, '/api/queues/%2F/inbox/contents', { method: 'DELETE' })).status).toBe(204);
    expect((await get<Json>(broker, '/api/queues/%2F/inbox')).messages).toBe(0);
  });

  it('lists: vhost scope, paging envelope, name filter (substring and regex), sort, columns', async () => {
    for (let i = 1; i <= 12; i++) await api(broker, `/api/queues/dev/job-${String(i).padStart(2, '0')}`, { method: 'PUT', body: {} });
    await api(broker, '/api/queues/dev/other', { method: 'PUT', body: {} });
    const all = await get<Json[]>(broker, '/api/queues/dev');
    expect(all.map((q) => q.name)).toEqual([...Array.from({ length: 12 }, (_, i) => `job-${String(i + 1).padStart(2, '0')}`), 'other']);
    expect(all.every((q) => q.vhost === 'dev')).toBe(true);

    const page = await get<Json>(broker, '/api/queues/dev?page=2&page_size=5&name=job');
    expect(page).toMatchObject({ total_count: 13, filtered_count: 12, item_count: 5, page: 2, page_size: 5, page_count: 3 });
    expect(page.items.map((q: Json) => q.name)).toEqual(['job-06', 'job-07', 'job-08', 'job-09', 'job-10']);

    const regex = await get<Json>(broker, '/api/queues/dev?page=1&name=^JOB-0[12]$&use_regex=true');
    expect(regex.items.map((q: Json) => q.name)).toEqual(['job-01', 'job-02']);

    const sorted = await get<Json[]>(broker, '/api/queues/dev?sort=name&sort_reverse=true&columns=name,vhost');
    expect(sorted[0]).toEqual({ name: 'other', vhost: 'dev' });

    const tooBig = await api(broker, '/api/queues?page=1&page_size=100000');
    expect(tooBig.status).toBe(400);
    expect(tooBig.body).toEqual({ error: 'invalid_pagination_parameters', reason: 'Invalid pagination parameters: page number 1, page size 100000' });
    expect((await api(broker, '/api/queues?page=0')).status).toBe(400);
    expect((await api(broker, '/api/queues?page=abc')).status).toBe(400);
    expect((await get<Json>(broker, '/api/queues?page=1')).page_size).toBe(100);
    expect((await api(broker, '/api/queues?page=9&page_size=500')).status).toBe(400);
  });

  it('consumers, channels and vhost-scoped lists', async () => {
    const ch = await conn.createChannel();
    await ch.assertQueue('watched');
    await ch.prefetch(7);
    const { consumerTag } = await ch.consume('watched', () => undefined, { noAck: false, arguments: { 'x-priority': 3 } });
    const consumers = await get<Json[]>(broker, '/api/consumers/%2F');
    const c = consumers.find((x) => x.consumer_tag === consumerTag)!;
    expect(c).toMatchObject({ queue: { name: 'watched', vhost: '/' }, ack_required: true, exclusive: false, prefetch_count: 7, arguments: { 'x-priority': 3 }, active: true });
    expect(c.channel_details).toMatchObject({ number: expect.any(Number), connection_name: expect.any(String) });
    expect(await get<Json[]>(broker, '/api/consumers/dev')).toEqual([]);
    const channels = await get<Json[]>(broker, '/api/channels');
    expect(channels.some((x) => x.prefetch_count === 7 && x.consumer_count === 1)).toBe(true);
    await ch.close();
  });

  it('health checks and aliveness', async () => {
    expect((await api(broker, '/api/health/checks/alarms')).body).toEqual({ status: 'ok' });
    expect((await api(broker, '/api/health/checks/local-alarms')).body).toEqual({ status: 'ok' });
    expect((await api(broker, '/api/health/checks/virtual-hosts')).body).toEqual({ status: 'ok' });
    expect((await api(broker, `/api/health/checks/port-listener/${broker.port}`)).body).toEqual({ status: 'ok', port: broker.port });
    const none = await api(broker, '/api/health/checks/port-listener/1');
    expect(none.status).toBe(503);
    expect(none.body).toMatchObject({ status: 'failed', missing: 1 });
    broker.setMemoryAlarm(true);
    try {
      const alarmed = await api(broker, '/api/health/checks/alarms');
      expect(alarmed.status).toBe(503);
      expect(alarmed.body).toMatchObject({ status: 'failed', alarms: [{ resource: 'memory' }] });
      const nodes = await get<Json[]>(broker, '/api/nodes');
      expect(nodes[0]).toMatchObject({ mem_alarm: true, running: true });
    } finally {
      broker.setMemoryAlarm(false);
    }
    expect((await api(broker, '/api/aliveness-test/%2F')).body).toEqual({ status: 'ok' });
    expect((await api(broker, '/api/aliveness-test/nope')).status).toBe(404);
  });

  it('nodes: RabbitMQ\'s fields and types', async () => {
    const nodes = await get<Json[]>(broker, '/api/nodes');
    expect(nodes).toHaveLength(1);
    const n = nodes[0]!;
    for (const k of ['mem_used', 'mem_limit', 'disk_free', 'disk_free_limit', 'fd_used', 'fd_total', 'sockets_used', 'uptime', 'processors']) expect(typeof n[k]).toBe('number');
    for (const k of ['mem_alarm', 'disk_free_alarm', 'running']) expect(typeof n[k]).toBe('boolean');
    expect(n.mem_used).toBeGreaterThan(0);
    expect(n.fd_used).toBeGreaterThan(0);
    expect((await get<Json>(broker, `/api/nodes/${encodeURIComponent(n.name)}`)).name).toBe(n.name);
    expect((await api(broker, '/api/nodes/rabbit@elsewhere')).status).toBe(404);
  });
});
