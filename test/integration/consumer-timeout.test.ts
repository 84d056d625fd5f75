/**
 * The consumer acknowledgement timeout (RabbitMQ's consumer_timeout,
 * `consumerTimeout`): a delivery left unacked longer than the timeout closes
 * its channel with RabbitMQ's 406 and its messages go back to the queue.
 * Other limits (maxConnections, channel_max, frame_max, maxMessageSize,
 * handshakeTimeout) are covered in server-*.test.ts.
 */
import type { Channel, ConsumeMessage } from 'amqplib';
import { afterEach, describe, expect, it } from 'vitest';
import type { Broker } from '../../src/index.js';
import { resolveOptions } from '../../src/config.js';
import { parseCli, UsageError } from '../../src/cli.js';
import { closedWith, connect, eventually, sleep, startBroker, type AmqpConnection } from '../helpers/broker.js';

const TIMEOUT = 300;
const text = (channel: number, ms: number): string =>
  `PRECONDITION_FAILED - delivery acknowledgement on channel ${channel} timed out. Timeout value used: ${ms} ms. This timeout value can be configured, see consumers doc guide to learn more`;

const brokers: Broker[] = [];
const conns: AmqpConnection[] = [];

async function setup(consumerTimeout = TIMEOUT): Promise<{ broker: Broker; conn: AmqpConnection; ch: Channel }> {
  const broker = await startBroker({ consumerTimeout });
  brokers.push(broker);
  const conn = await connect(broker);
  conn.on('error', () => {});
  conns.push(conn);
  const ch = await conn.createChannel();
  ch.on('error', () => {});
  return { broker, conn, ch };
}

afterEach(async () => {
  await Promise.allSettled(conns.splice(0).map((c) => c.close()));
  await Promise.all(brokers.splice(0).map((b) => b.stop()));
});

describe('consumer acknowledgement timeout', () => {
  it('an unacked delivery closes the channel with RabbitMQ\'s 406 after consumerTimeout, and the message is requeued', async () => {
    const { broker, conn, ch } = await setup();
    await ch.assertQueue('ct-q');
    const got: ConsumeMessage[] = [];
    let deliveredAt = 0;
    await ch.consume('ct-q', (m) => {
      if (!m) return;
      deliveredAt ||= Date.now();
      got.push(m);
    });
    const closed = closedWith(ch);
    ch.sendToQueue('ct-q', Buffer.from('never acked'));
    const err = await closed;
    const after = Date.now() - deliveredAt;
    expect(err.code).toBe(406);
    expect(err.message).toContain(text(1, TIMEOUT));
    expect(after).toBeGreaterThanOrEqual(TIMEOUT - 20);
    expect(after).toBeLessThan(TIMEOUT + 700);
    expect(got).toHaveLength(1);
    // Requeued, marked redelivered; the connection and its other channels are fine.
    const ch2 = await conn.createChannel();
    const again = await ch2.get('ct-q', { noAck: true });
    expect(again && again.content.toString()).toBe('never acked');
    expect(again && again.fields.redelivered).toBe(true);
    expect(broker.vhosts.get('/')!.queues.get('ct-q')!.messageCount).toBe(0);
  });

  it('the wire close carries class 0 / method 0, as RabbitMQ\'s', async () => {
    const { ch } = await setup();
    await ch.assertQueue('ct-wire');
    await ch.consume('ct-wire', () => {});
    const closed = closedWith(ch) as Promise<Error & { code?: number; classId?: number; methodId?: number }>;
    ch.sendToQueue('ct-wire', Buffer.from('x'));
    const err = await closed;
    expect([err.code, err.classId, err.methodId]).toEqual([406, 0, 0]);
  });

  it('a consumer that acks each delivery within the timeout keeps its channel for many timeouts', async () => {
    const { ch } = await setup();
    await ch.assertQueue('ct-acker');
    let acked = 0;
    await ch.consume('ct-acker', (m) => {
      if (!m) return;
      setTimeout(() => { ch.ack(m); acked++; }, TIMEOUT / 3);
    });
    const errors: Error[] = [];
    ch.on('error', (e: Error) => errors.push(e));
    for (let i = 0; i < 8; i++) {
      ch.sendToQueue('ct-acker', Buffer.from(`m${i}`));
      await sleep(TIMEOUT / 2);
    }
    await eventually(() => acked === 8, 2000, 'all acked');
    await sleep(TIMEOUT + 100);
    expect(errors).toEqual([]);
    await ch.checkQueue('ct-acker');
  });

  it('only the oldest unacked delivery counts: acking it moves the deadline to the next one', async () => {
    const { ch } = await setup();
    await ch.assertQueue('ct-oldest');
    const got: ConsumeMessage[] = [];
    await ch.consume('ct-oldest', (m) => { if (m) got.push(m); });
    ch.sendToQueue('ct-oldest', Buffer.from('a'));
    await eventually(() => got.length === 1, 1000, 'first');
    await sleep(200);
    const secondAt = Date.now();
    ch.sendToQueue('ct-oldest', Buffer.from('b'));
    await eventually(() => got.length === 2, 1000, 'second');
    const closed = closedWith(ch);
    ch.ack(got[0]!);
    const err = await closed;
    const after = Date.now() - secondAt;
    expect(err.code).toBe(406);
    // The second delivery timed out on its own clock, not the first one's.
    expect(after).toBeGreaterThanOrEqual(TIMEOUT - 30);
    expect(after).toBeLessThan(TIMEOUT + 700);
  });

  it('a basic.get delivery awaiting ack times out too; noAck deliveries never do', async () => {
    const { conn, ch } = await setup();
    await ch.assertQueue('ct-get');
    ch.sendToQueue('ct-get', Buffer.from('one'));
    ch.sendToQueue('ct-get', Buffer.from('two'));
    // A noAck consumer on another channel, on another queue: unaffected.
    const free = await conn.createChannel();
    await free.assertQueue('ct-noack');
    let freeGot = 0;
    await free.consume('ct-noack', () => { freeGot++; }, { noAck: true });
    free.sendToQueue('ct-noack', Buffer.from('free'));
    const closed = closedWith(ch);
    const m = await ch.get('ct-get');
    expect(m && m.content.toString()).toBe('one');
    const err = await closed;
    expect(err.message).toContain(text(1, TIMEOUT));
    await sleep(100);
    expect(freeGot).toBe(1);
    expect((await free.checkQueue('ct-get')).messageCount).toBe(2);
  });

  it('consumerTimeout 0 disables the timeout', async () => {
    const { ch } = await setup(0);
    await ch.assertQueue('ct-off');
    const got: ConsumeMessage[] = [];
    await ch.consume('ct-off', (m) => { if (m) got.push(m); });
    ch.sendToQueue('ct-off', Buffer.from('kept'));
    await eventually(() => got.length === 1, 1000, 'delivery');
    await sleep(TIMEOUT * 2);
    ch.ack(got[0]!);
    expect((await ch.checkQueue('ct-off')).messageCount).toBe(0);
  });
});

describe('limit options', () => {
  it('defaults: consumerTimeout 30 min, memory watermark 0.4 of RAM', () => {
    const o = resolveOptions({});
    expect(o.consumerTimeout).toBe(1_800_000);
    expect(o.memoryHighWatermark).toBeGreaterThan(0);
    expect(resolveOptions({ memoryHighWatermark: 123_456_789 }).memoryHighWatermark).toBe(123_456_789);
    expect(resolveOptions({ memoryHighWatermark: 0.8 }).memoryHighWatermark).toBe(o.memoryHighWatermark * 2);
    expect(() => resolveOptions({ consumerTimeout: -1 })).toThrow(/consumerTimeout/);
  });

  it('CLI: --consumer-timeout and --memory-high-watermark (flag, env and config file)', () => {
    expect(parseCli(['--consumer-timeout', '60000', '--memory-high-watermark', '0.6'], {})).toMatchObject({ consumerTimeout: 60000, memoryHighWatermark: 0.6 });
    expect(parseCli(['--memory-high-watermark', '2147483648'], {})).toMatchObject({ memoryHighWatermark: 2147483648 });
    expect(parseCli([], { WARREN_CONSUMER_TIMEOUT: '0', WARREN_MEMORY_HIGH_WATERMARK: '.5' })).toMatchObject({ consumerTimeout: 0, memoryHighWatermark: 0.5 });
    expect(() => parseCli(['--consumer-timeout', '1.5'], {})).toThrow(UsageError);
    expect(() => parseCli(['--memory-high-watermark', 'lots'], {})).toThrow(UsageError);
  });
});
