/**
 * x-queue-type (RabbitMQ extension) through amqplib: classic; quorum as a
 * durable, shared queue (the other flags refused with RabbitMQ's texts) with
 * x-delivery-limit (returns counted on nack/reject with requeue and on
 * channel close, then dead-lettered as delivery_limit or dropped) and the
 * x-delivery-count header on redeliveries; stream and unknown types refused.
 */
import type { Channel, Message } from 'amqplib';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { Broker } from '../../src/index.js';
import { eventually, startBroker } from '../helpers/broker.js';
import { Clients, body, consume, drain, drainBodies, expectChannelError, sync } from '../helpers/model.js';
import { expectXDeath, hasField, rawGet } from '../helpers/x-death.js';

let broker: Broker;
const clients = new Clients(() => broker);
beforeAll(async () => { broker = await startBroker(); });
afterEach(() => clients.closeAll());
afterAll(() => broker.stop());

const QUORUM = { 'x-queue-type': 'quorum' };
const readyCount = (q: string): number => broker.queues('/').find((info) => info.name === q)?.messagesReady ?? -1;

/** Declares a fresh durable quorum queue (deleted first if left over). */
async function quorum(ch: Channel, name: string, args: Record<string, unknown> = {}): Promise<void> {
  await ch.deleteQueue(name);
  await ch.assertQueue(name, { durable: true, arguments: { ...QUORUM, ...args } });
}

const deliveryCount = (m: Message): unknown => m.properties.headers?.['x-delivery-count'];

describe('x-queue-type', () => {
  it('classic is accepted and is the ordinary queue; the type is compared on redeclare', async () => {
    const ch = await clients.channel();
    await ch.assertQueue('qt-classic', { exclusive: true, arguments: { 'x-queue-type': 'classic' } });
    ch.sendToQueue('qt-classic', Buffer.from('m'));
    const m = await ch.get('qt-classic');
    if (!m) throw new Error('no message');
    ch.nack(m, false, true);
    const again = await ch.get('qt-classic', { noAck: true });
    if (!again) throw new Error('not requeued');
    expect(again.fields.redelivered).toBe(true);
    expect(again.properties.headers?.['x-delivery-count']).toBeUndefined(); // classic queues do not count
    await expectChannelError(ch, () => ch.assertQueue('qt-classic', { exclusive: true, arguments: { 'x-queue-type': 'quorum' } }), 406,
      "PRECONDITION_FAILED - inequivalent arg 'x-queue-type' for queue 'qt-classic' in vhost '/': received the value 'quorum' of type 'longstr' but current is the value 'classic' of type 'longstr'");
  });

  it('quorum is accepted as a durable queue; redeclaring without the type is a 406', async () => {
    const ch = await clients.channel();
    await quorum(ch, 'qt-quorum');
    expect(await ch.assertQueue('qt-quorum', { durable: true, arguments: QUORUM })).toEqual({ queue: 'qt-quorum', messageCount: 0, consumerCount: 0 });
    await expectChannelError(ch, () => ch.assertQueue('qt-quorum', { durable: true }), 406,
      "PRECONDITION_FAILED - inequivalent arg 'x-queue-type' for queue 'qt-quorum' in vhost '/': received none but current is the value 'quorum' of type 'longstr'");
    await (await clients.channel()).deleteQueue('qt-quorum');
  });

  it.each([
    ['non-durable', { durable: false }, 'non-durable'],
    ['exclusive', { durable: true, exclusive: true }, 'exclusive-owner'],
    ['auto-delete', { durable: true, autoDelete: true }, 'auto-delete'],
    ['auto-delete and non-durable (auto-delete is checked first)', { durable: false, autoDelete: true }, 'auto-delete'],
  ])('a quorum queue cannot be %s', async (_what, flags, property) => {
    const ch = await clients.channel();
    await expectChannelError(ch, () => ch.assertQueue('qt-q-bad', { ...flags, arguments: QUORUM }), 406,
      `PRECONDITION_FAILED - invalid property '${property}' for queue 'qt-q-bad' in vhost '/'`);
  });

  it('stream queues are refused with a clear 406', async () => {
    const ch = await clients.channel();
    await expectChannelError(ch, () => ch.assertQueue('qt-stream', { durable: true, arguments: { 'x-queue-type': 'stream' } }), 406,
      "PRECONDITION_FAILED - invalid arg 'x-queue-type' for queue 'qt-stream' in vhost '/': stream queues are not supported by Warren");
  });

  it('an unknown queue type is a 406', async () => {
    const ch = await clients.channel();
    await expectChannelError(ch, () => ch.assertQueue('qt-foo', { durable: true, arguments: { 'x-queue-type': 'foo' } }), 406,
      "PRECONDITION_FAILED - invalid arg 'x-queue-type' for queue 'qt-foo' in vhost '/': invalid_queue_type");
  });
});

describe('quorum queues: x-delivery-count and x-delivery-limit', () => {
  it('redeliveries carry x-delivery-count; past x-delivery-limit the message is dead-lettered (reason delivery_limit)', async () => {
    const ch = await clients.channel();
    await ch.assertQueue('qt-dl.dlq', { exclusive: true });
    await quorum(ch, 'qt-dl', { 'x-delivery-limit': 2, 'x-dead-letter-exchange': '', 'x-dead-letter-routing-key': 'qt-dl.dlq' });
    const from = Date.now();
    ch.sendToQueue('qt-dl', Buffer.from('poison'), { headers: { app: 'a' } });
    const inbox = await consume(ch, 'qt-dl', {}, (m) => ch.nack(m, false, true));
    await inbox.waitFor(3);
    await eventually(() => readyCount('qt-dl.dlq') === 1, 10_000, 'dead-lettered');
    await sync(ch);
    // Delivered limit + 1 times: counts 0 (absent), 1, 2; the third return exceeds the limit.
    expect(inbox.messages.map((m) => [m.fields.redelivered, deliveryCount(m)])).toEqual([[false, undefined], [true, 1], [true, 2]]);
    expect(inbox.messages[2]!.properties.headers).toEqual({ app: 'a', 'x-delivery-count': 2 });
    const [dead] = await drain(ch, 'qt-dl.dlq');
    expect(body(dead!)).toBe('poison');
    expect(dead!.properties.headers!['x-delivery-count']).toBeUndefined();
    expectXDeath(dead!.properties.headers, [{ count: 1, reason: 'delivery_limit', queue: 'qt-dl', exchange: '', 'routing-keys': ['qt-dl'] }], { from, to: Date.now() });
    expect(readyCount('qt-dl')).toBe(0);
    await ch.cancel(inbox.tag);
    await ch.deleteQueue('qt-dl');
  });

  it('basic.reject with requeue and a closed channel count as returns too; without a DLX the message is dropped', async () => {
    const ch = await clients.channel();
    await quorum(ch, 'qt-drop', { 'x-delivery-limit': 1 });
    ch.sendToQueue('qt-drop', Buffer.from('m'));
    await sync(ch);
    const conn = await clients.connect();
    const c1 = await clients.channel(conn);
    const first = await c1.get('qt-drop');
    if (!first) throw new Error('no message');
    expect(deliveryCount(first)).toBeUndefined();
    await c1.close(); // unacked → returned (1)
    const second = await ch.get('qt-drop');
    if (!second) throw new Error('not returned');
    expect([second.fields.redelivered, deliveryCount(second)]).toEqual([true, 1]);
    ch.reject(second, true); // returned (2) > limit 1: dropped
    await sync(ch);
    expect(await ch.get('qt-drop')).toBe(false);
    expect(await ch.checkQueue('qt-drop')).toMatchObject({ messageCount: 0 });
    await ch.deleteQueue('qt-drop');
  });

  it('x-delivery-limit 0: the first return dead-letters it; rejection without requeue dead-letters as rejected', async () => {
    const ch = await clients.channel();
    await ch.assertQueue('qt-zero.dlq', { exclusive: true });
    await quorum(ch, 'qt-zero', { 'x-delivery-limit': 0, 'x-dead-letter-exchange': '', 'x-dead-letter-routing-key': 'qt-zero.dlq' });
    ch.sendToQueue('qt-zero', Buffer.from('returned'));
    ch.sendToQueue('qt-zero', Buffer.from('rejected'));
    await sync(ch);
    const a = await ch.get('qt-zero');
    const b = await ch.get('qt-zero');
    if (!a || !b) throw new Error('missing');
    ch.nack(a, false, true);
    ch.nack(b, false, false);
    await eventually(() => readyCount('qt-zero.dlq') === 2, 10_000, 'both dead-lettered');
    const dead = await drain(ch, 'qt-zero.dlq');
    expect(dead.map((m) => [body(m), (m.properties.headers!['x-death'] as { reason: string }[])[0]!.reason])).toEqual([['returned', 'delivery_limit'], ['rejected', 'rejected']]);
    expect(await drainBodies(ch, 'qt-zero')).toEqual([]);
    await ch.deleteQueue('qt-zero');
  });

  it('x-delivery-count is a long, as RabbitMQ writes it', async () => {
    const ch = await clients.channel();
    await quorum(ch, 'qt-count-type');
    ch.sendToQueue('qt-count-type', Buffer.from('m'));
    const m = await ch.get('qt-count-type');
    if (!m) throw new Error('no message');
    ch.nack(m, false, true);
    await sync(ch);
    const raw = await rawGet(broker.port, 'qt-count-type');
    expect(raw && hasField(raw.header, 'x-delivery-count', 'l')).toBe(true);
    await ch.deleteQueue('qt-count-type');
  });

  it('without x-delivery-limit messages are redelivered indefinitely, the count growing', async () => {
    const ch = await clients.channel();
    await quorum(ch, 'qt-nolimit');
    ch.sendToQueue('qt-nolimit', Buffer.from('m'));
    const inbox = await consume(ch, 'qt-nolimit', {}, (m, box) => {
      if (box.messages.length < 6) ch.nack(m, false, true);
      else ch.ack(m);
    });
    await inbox.waitFor(6);
    await sync(ch);
    expect(inbox.messages.map(deliveryCount)).toEqual([undefined, 1, 2, 3, 4, 5]);
    await ch.cancel(inbox.tag);
    await ch.deleteQueue('qt-nolimit');
  });
});
