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
import { availableMemory, resolveOptions } from '../../src/config.js';
import { parseCli, UsageError } from '../../src/cli.js';
import { closedWith, connect, eventually, sleep, startBroker, type AmqpConnection } from '../helpers/broker.js';
import { WAIT_MS, withTimeout } from '../helpers/wait.js';

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

/** How late a due timeout may fire on a loaded machine before the test calls it a bug. */
const LATE_MS = 5000;

/**
 * A positive barrier for "this timeout did not fire": consumes one delivery
 * on a new channel of `conn` without acking it and waits for that channel's
 * 406. Every delivery made before it on the same broker process was due
 * earlier (timers fire in deadline order), so any close it caused would
 * already have been sent.
 */
async function sentinelTimesOut(conn: AmqpConnection, timeout: number): Promise<void> {
  const ch = await conn.createChannel();
  ch.on('error', () => {});
  const { queue } = await ch.assertQueue('', { exclusive: true });
  await ch.consume(queue, () => {});
  const closed = closedWith(ch);
  ch.sendToQueue(queue, Buffer.from('sentinel'));
  const err = await withTimeout(closed, timeout + WAIT_MS, 'the sentinel channel\'s timeout');
  expect(err.message).toContain(`timed out. Timeout value used: ${timeout} ms`);
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
    // Taken before the publish: the broker's delivery (and its deadline) come after it. (The
    // client's receipt of the delivery can lag the broker's send on a loaded machine.)
    const sentAt = Date.now();
    ch.sendToQueue('ct-q', Buffer.from('never acked'));
    const err = await closed;
    const closedAt = Date.now();
    expect(err.code).toBe(406);
    expect(err.message).toContain(text(1, TIMEOUT));
    expect(closedAt - sentAt).toBeGreaterThanOrEqual(TIMEOUT - 5); // (timers run on a coarse monotonic clock; Date.now may differ by a tick)
    // Fires when due, not at some much later sweep (generous: the machine is loaded).
    expect(closedAt - deliveredAt).toBeLessThan(TIMEOUT + LATE_MS);
    expect(got).toHaveLength(1);
    // Requeued, marked redelivered; the connection and its other channels are fine.
    const ch2 = await conn.createChannel();
    const again = await ch2.get('ct-q', { noAck: true });
    expect(again && again.content.toString()).toBe('never acked');
    expect(again && again.fields.redelivered).toBe(true);
    expect(broker.queues('/').find((q) => q.name === 'ct-q')).toMatchObject({ messagesReady: 0 });
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
    // A longer timeout here: the acks must beat it even when the loaded machine stalls this process.
    const timeout = 1000;
    const { conn, ch } = await setup(timeout);
    await ch.assertQueue('ct-acker');
    let acked = 0;
    await ch.consume('ct-acker', (m) => {
      if (!m) return;
      ch.ack(m);
      acked++;
    });
    const errors: Error[] = [];
    ch.on('error', (e: Error) => errors.push(e));
    // Deliveries paced over three timeout periods.
    for (let i = 0; i < 6; i++) {
      ch.sendToQueue('ct-acker', Buffer.from(`m${i}`));
      await sleep(timeout / 2);
    }
    await eventually(() => acked === 6, WAIT_MS, 'all acked');
    await ch.checkQueue('ct-acker');
    // Barrier: a delivery left unacked on another channel after the last ack
    // times out after every deadline of the acked ones; then a round trip on ch.
    await sentinelTimesOut(conn, timeout);
    expect(errors).toEqual([]);
    expect((await ch.checkQueue('ct-acker')).messageCount).toBe(0);
  });

  it('only the oldest unacked delivery counts: acking it moves the deadline to the next one', async () => {
    // The first delivery's deadline is 1.7 s after the second is sent (the ack
    // must beat it), the second's 2 s: wide margins on both sides for a loaded machine.
    const timeout = 2000;
    const { ch } = await setup(timeout);
    await ch.assertQueue('ct-oldest');
    const got: ConsumeMessage[] = [];
    await ch.consume('ct-oldest', (m) => { if (m) got.push(m); });
    ch.sendToQueue('ct-oldest', Buffer.from('a'));
    await eventually(() => got.length === 1, WAIT_MS, 'first');
    await sleep(300); // the first delivery ages
    const secondAt = Date.now();
    ch.sendToQueue('ct-oldest', Buffer.from('b'));
    await eventually(() => got.length === 2, WAIT_MS, 'second');
    const closed = closedWith(ch);
    ch.ack(got[0]!);
    const err = await closed;
    const after = Date.now() - secondAt;
    expect(err.code).toBe(406);
    expect(err.message).toContain(text(1, timeout));
    // The second delivery timed out on its own clock, not the first one's.
    expect(after).toBeGreaterThanOrEqual(timeout - 30);
    expect(after).toBeLessThan(timeout + LATE_MS);
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
    await eventually(() => freeGot === 1, WAIT_MS, 'the noAck delivery');
    // A round trip on the noAck channel, well past its delivery's would-be deadline: still open.
    await sentinelTimesOut(conn, TIMEOUT);
    await free.checkQueue('ct-noack');
    expect(freeGot).toBe(1);
    expect((await free.checkQueue('ct-get')).messageCount).toBe(2);
  });

  it('consumerTimeout 0 disables the timeout', async () => {
    const { ch } = await setup(0);
    await ch.assertQueue('ct-off');
    const got: ConsumeMessage[] = [];
    await ch.consume('ct-off', (m) => { if (m) got.push(m); });
    ch.sendToQueue('ct-off', Buffer.from('kept'));
    await eventually(() => got.length === 1, WAIT_MS, 'delivery');
    // Barrier: a broker with the timeout enabled closes a channel whose delivery
    // was made after ours; a timer of this broker would have fired by then.
    const { conn: other } = await setup(TIMEOUT);
    await sentinelTimesOut(other, TIMEOUT);
    ch.ack(got[0]!);
    expect((await ch.checkQueue('ct-off')).messageCount).toBe(0);
  });
});

describe('limit options', () => {
  it('defaults: consumerTimeout 30 min, memory watermark 0.4 of RAM', () => {
    const o = resolveOptions({});
    expect(o.consumerTimeout).toBe(1_800_000);
    // A fraction is resolved against the same RAM figure the broker uses (floored
    // separately each time: 0.8·RAM is not always exactly 2·floor(0.4·RAM)).
    const ram = availableMemory();
    expect(ram).toBeGreaterThan(0);
    expect(o.memoryHighWatermark).toBe(Math.floor(0.4 * ram));
    expect(resolveOptions({ memoryHighWatermark: 123_456_789 }).memoryHighWatermark).toBe(123_456_789);
    expect(resolveOptions({ memoryHighWatermark: 0.8 }).memoryHighWatermark).toBe(Math.floor(0.8 * ram));
    expect(resolveOptions({ memoryHighWatermark: 1 }).memoryHighWatermark).toBe(ram);
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
