import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Broker } from '../../src/index.js';
import { connect, eventually, startBroker, type AmqpConnection } from '../helpers/broker.js';
import { WAIT_MS } from '../helpers/wait.js';
import { get } from '../helpers/http.js';

type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

/** Statistics through the management API: exact counts over a known workload, rates from 5 s samples. */
describe('management HTTP API: message statistics', () => {
  let broker: Broker;
  let conn: AmqpConnection;
  beforeAll(async () => {
    broker = await startBroker({ management: { port: 0 } });
    conn = await connect(broker);
  });
  afterAll(async () => {
    await conn.close().catch(() => undefined);
    await broker.stop();
  });

  it('counts publishes, confirms, returns, drops, gets, deliveries and acks exactly', async () => {
    const pub = await conn.createConfirmChannel();
    await pub.assertQueue('stats-q');
    const returned: unknown[] = [];
    pub.on('return', (m) => returned.push(m));
    for (let i = 0; i < 50; i++) pub.sendToQueue('stats-q', Buffer.from(`m${i}`));
    for (let i = 0; i < 5; i++) pub.publish('', 'nowhere', Buffer.from('r'), { mandatory: true });
    for (let i = 0; i < 3; i++) pub.publish('', 'nowhere', Buffer.from('d'));
    await pub.waitForConfirms();

    const sub = await conn.createChannel();
    for (let i = 0; i < 10; i++) {
      const m = await sub.get('stats-q', { noAck: false });
      expect(m).not.toBe(false);
      if (m) sub.ack(m);
    }
    let consumed = 0;
    await sub.consume('stats-q', (m) => {
      if (!m) return;
      consumed++;
      sub.ack(m);
    });
    await eventually(() => consumed === 40, 10_000, '40 deliveries');
    await eventually(async () => (await get<Json>(broker, '/api/queues/%2F/stats-q')).message_stats?.ack === 50, 10_000, '50 acks counted');
    await eventually(() => returned.length === 5, WAIT_MS, '5 returns');

    const q = await get<Json>(broker, '/api/queues/%2F/stats-q');
    expect(q.messages).toBe(0);
    expect(q.consumers).toBe(1);
    expect(q.message_stats).toMatchObject({ publish: 50, get: 10, get_no_ack: 0, deliver: 40, deliver_no_ack: 0, deliver_get: 50, redeliver: 0, ack: 50 });
    expect(q.message_stats.publish_details).toEqual({ rate: expect.any(Number) });

    const x = await get<Json>(broker, '/api/exchanges/%2F/amq.default');
    expect(x.name).toBe('');
    expect(x.message_stats).toMatchObject({ publish_in: 58, publish_out: 50 });

    const channels = await get<Json[]>(broker, '/api/channels');
    const publisher = channels.find((c) => c.confirm === true)!;
    expect(publisher.message_stats).toMatchObject({ publish: 58, confirm: 58, return_unroutable: 5, drop_unroutable: 3 });
    const consumer = channels.find((c) => c.consumer_count === 1)!;
    expect(consumer.message_stats).toMatchObject({ get: 10, deliver: 40, ack: 50 });
    expect(consumer.connection_details).toMatchObject({ name: expect.stringContaining(' -> '), peer_host: '127.0.0.1', peer_port: expect.any(Number) });

    const o = await get<Json>(broker, '/api/overview');
    expect(o.message_stats).toMatchObject({ publish: 58, confirm: 58, return_unroutable: 5, drop_unroutable: 3, get: 10, deliver: 40, deliver_get: 50, ack: 50 });
    expect(o.object_totals).toMatchObject({ connections: 1, channels: 2, consumers: 1, queues: 1 });

    const v = await get<Json>(broker, '/api/vhosts/%2F');
    expect(v.message_stats).toMatchObject({ publish: 58, ack: 50, deliver_get: 50 });

    // Closing the channels keeps their counts in the vhost and overall totals.
    await pub.close();
    await sub.close();
    expect((await get<Json>(broker, '/api/overview')).message_stats).toMatchObject({ publish: 58, ack: 50, deliver_get: 50 });
  });

  it('connections report their byte and packet counters', async () => {
    const list = await get<Json[]>(broker, '/api/connections');
    expect(list).toHaveLength(1);
    const c = list[0]!;
    expect(c).toMatchObject({ user: 'guest', vhost: '/', state: 'running', protocol: 'AMQP 0-9-1', auth_mechanism: 'PLAIN', type: 'network', ssl: false, peer_host: '127.0.0.1' });
    for (const k of ['recv_oct', 'send_oct', 'recv_cnt', 'send_cnt', 'send_pend', 'channels', 'frame_max', 'channel_max', 'timeout', 'connected_at', 'peer_port', 'port']) expect(typeof c[k]).toBe('number');
    expect(c.recv_oct).toBeGreaterThan(0);
    expect(c.send_oct).toBeGreaterThan(0);
    expect(c.recv_cnt).toBeGreaterThan(0);
    expect(c.send_cnt).toBeGreaterThan(0);
    expect(c.recv_oct_details).toEqual({ rate: expect.any(Number) });
    expect(c.client_properties.product).toBe('amqplib');
    const one = await get<Json>(broker, `/api/connections/${encodeURIComponent(c.name)}`);
    expect(one.name).toBe(c.name);
  });

  it('rates: the change between two 5 s samples, per second', async () => {
    const ch = await conn.createChannel();
    await ch.assertQueue('rate-q');
    // The test takes the samples itself (the 5 s timer would take one at an unknown moment).
    broker.statistics.stop();
    const t0 = Date.now();
    broker.statistics.sample(t0);
    for (let i = 0; i < 100; i++) ch.sendToQueue('rate-q', Buffer.from('x'));
    await eventually(async () => (await get<Json>(broker, '/api/queues/%2F/rate-q')).messages === 100, WAIT_MS, '100 messages');
    broker.statistics.sample(t0 + 5000);
    const q = await get<Json>(broker, '/api/queues/%2F/rate-q');
    expect(q.message_stats.publish_details.rate).toBe(20);
    expect(q.messages_ready_details.rate).toBe(20);
    expect(q.messages_details.rate).toBe(20);
    const o = await get<Json>(broker, '/api/overview');
    expect(o.message_stats.publish_details.rate).toBe(20);
    expect(o.queue_totals.messages_details.rate).toBe(20);
    broker.statistics.start();
    await ch.close();
  });
});
