/**
 * Consumer priorities (x-priority on basic.consume) and single active
 * consumer (x-single-active-consumer on queue.declare), RabbitMQ extensions,
 * through amqplib: higher-priority consumers get messages while they have
 * credit, lower ones only when the higher ones are blocked; a single active
 * consumer at a time, in subscription order, with hand-over (and requeued
 * unacked messages) when it cancels or its channel closes.
 */
import type { Channel } from 'amqplib';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { Broker } from '../../src/index.js';
import { eventually, startBroker } from '../helpers/broker.js';
import { Clients, body, consume, expectChannelError, settled, sync, type Inbox } from '../helpers/model.js';

let broker: Broker;
const clients = new Clients(() => broker);
beforeAll(async () => { broker = await startBroker(); });
afterEach(() => clients.closeAll());
afterAll(() => broker.stop());

/** A consumer on its own channel with per-consumer prefetch `prefetch` (0 = unlimited). */
async function consumerOn(queue: string, options: { prefetch?: number; priority?: number; noAck?: boolean } = {}): Promise<{ ch: Channel; inbox: Inbox }> {
  const ch = await clients.channel();
  if (options.prefetch) await ch.prefetch(options.prefetch);
  const inbox = await consume(ch, queue, { noAck: options.noAck ?? false, ...(options.priority === undefined ? {} : { priority: options.priority }) });
  return { ch, inbox };
}

async function publish(ch: Channel, queue: string, bodies: string[]): Promise<void> {
  for (const b of bodies) ch.sendToQueue(queue, Buffer.from(b));
  await sync(ch);
}

const range = (prefix: string, n: number): string[] => Array.from({ length: n }, (_, i) => `${prefix}${i + 1}`);

describe('consumer priorities (x-priority)', () => {
  it('the higher-priority consumer gets messages while it has credit; the lower one only when it is blocked', async () => {
    const ch = await clients.channel();
    await ch.assertQueue('cp-1', { exclusive: false, autoDelete: true });
    const low = await consumerOn('cp-1', { prefetch: 10, priority: 0 });
    const high = await consumerOn('cp-1', { prefetch: 2, priority: 10 });
    await publish(ch, 'cp-1', range('m', 5));
    await high.inbox.waitFor(2);
    await low.inbox.waitFor(3);
    expect(high.inbox.bodies).toEqual(['m1', 'm2']);
    expect(low.inbox.bodies).toEqual(['m3', 'm4', 'm5']);
    // The high one frees a slot: the next message is its again.
    high.ch.ack(high.inbox.messages[0]!);
    await sync(high.ch);
    await publish(ch, 'cp-1', ['m6']);
    await high.inbox.waitFor(3);
    await sync(low.ch);
    expect(high.inbox.bodies).toEqual(['m1', 'm2', 'm6']);
    expect(low.inbox.bodies).toEqual(['m3', 'm4', 'm5']);
  });

  it('consumers of equal priority share round-robin; lower priorities wait; negative priorities rank below the default 0', async () => {
    const ch = await clients.channel();
    await ch.assertQueue('cp-2', { exclusive: false, autoDelete: true });
    const neg = await consumerOn('cp-2', { noAck: true, priority: -5 });
    const dflt = await consumerOn('cp-2', { noAck: true });
    const a = await consumerOn('cp-2', { noAck: true, priority: 3 });
    const b = await consumerOn('cp-2', { noAck: true, priority: 3 });
    await publish(ch, 'cp-2', range('m', 6));
    await eventually(() => a.inbox.messages.length + b.inbox.messages.length === 6, 10_000, 'six deliveries');
    await sync(dflt.ch);
    await sync(neg.ch);
    expect(a.inbox.bodies).toEqual(['m1', 'm3', 'm5']);
    expect(b.inbox.bodies).toEqual(['m2', 'm4', 'm6']);
    expect(dflt.inbox.bodies).toEqual([]);
    // Without the priority-3 consumers, the default one (0) outranks the negative one.
    await a.ch.close();
    await b.ch.close();
    await publish(ch, 'cp-2', ['n1', 'n2']);
    await dflt.inbox.waitFor(2);
    await sync(neg.ch);
    expect(dflt.inbox.bodies).toEqual(['n1', 'n2']);
    expect(neg.inbox.bodies).toEqual([]);
  });

  it('when the high-priority consumer is cancelled, the lower one receives the backlog', async () => {
    const ch = await clients.channel();
    await ch.assertQueue('cp-3', { exclusive: false, autoDelete: false });
    const high = await consumerOn('cp-3', { prefetch: 1, priority: 5 });
    const low = await consumerOn('cp-3', { prefetch: 1, priority: 1 });
    await publish(ch, 'cp-3', range('m', 4));
    await high.inbox.waitFor(1);
    await low.inbox.waitFor(1);
    await high.ch.cancel(high.inbox.tag);
    low.ch.ack(low.inbox.messages[0]!);
    await low.inbox.waitFor(2);
    low.ch.ack(low.inbox.messages[1]!);
    await low.inbox.waitFor(3);
    expect(high.inbox.bodies).toEqual(['m1']);
    expect(low.inbox.bodies).toEqual(['m2', 'm3', 'm4']);
    low.ch.ack(low.inbox.messages[2]!);
    await ch.deleteQueue('cp-3');
  });

  it('x-priority must be an integer: 406 with RabbitMQ\'s text', async () => {
    const ch = await clients.channel();
    await ch.assertQueue('cp-bad', { exclusive: true });
    await expectChannelError(ch, () => ch.consume('cp-bad', () => {}, { arguments: { 'x-priority': 'high' } }), 406,
      "PRECONDITION_FAILED - invalid arg 'x-priority' for queue 'cp-bad' in vhost '/': {unacceptable_type,longstr}");
  });
});

describe('single active consumer (x-single-active-consumer)', () => {
  const SAC = { 'x-single-active-consumer': true };

  it('only the first subscriber receives; the others wait even with credit', async () => {
    const ch = await clients.channel();
    await ch.assertQueue('sac-1', { exclusive: false, autoDelete: true, arguments: SAC });
    const first = await consumerOn('sac-1', { noAck: true });
    const second = await consumerOn('sac-1', { noAck: true });
    const third = await consumerOn('sac-1', { noAck: true });
    await publish(ch, 'sac-1', range('m', 6));
    await first.inbox.waitFor(6);
    await sync(second.ch);
    await sync(third.ch);
    expect(first.inbox.bodies).toEqual(range('m', 6));
    expect(second.inbox.bodies).toEqual([]);
    expect(third.inbox.bodies).toEqual([]);
    expect(await ch.checkQueue('sac-1')).toMatchObject({ consumerCount: 3 });
  });

  it('the active consumer blocked by its prefetch holds the queue: nobody else gets messages', async () => {
    const ch = await clients.channel();
    await ch.assertQueue('sac-2', { exclusive: false, autoDelete: true, arguments: SAC });
    const first = await consumerOn('sac-2', { prefetch: 1 });
    const second = await consumerOn('sac-2', { noAck: true });
    await publish(ch, 'sac-2', range('m', 3));
    await first.inbox.waitFor(1);
    await settled([ch], [second.inbox]);
    expect(second.inbox.bodies).toEqual([]);
    first.ch.ack(first.inbox.messages[0]!);
    await first.inbox.waitFor(2);
    expect(first.inbox.bodies).toEqual(['m1', 'm2']);
    expect(second.inbox.bodies).toEqual([]);
  });

  it('when the active consumer cancels, the next in subscription order takes over; its unacked stay unacked until its channel closes, then go to the new active consumer', async () => {
    const ch = await clients.channel();
    await ch.assertQueue('sac-3', { exclusive: false, autoDelete: false, arguments: SAC });
    const first = await consumerOn('sac-3', { prefetch: 2 });
    const second = await consumerOn('sac-3', {});
    const third = await consumerOn('sac-3', {});
    await publish(ch, 'sac-3', range('m', 4));
    await first.inbox.waitFor(2);
    await first.ch.cancel(first.inbox.tag);
    await second.inbox.waitFor(2);
    expect(second.inbox.bodies).toEqual(['m3', 'm4']);
    // first still holds m1 and m2 unacked; closing its channel requeues them to the active consumer (second).
    await first.ch.close();
    await second.inbox.waitFor(4);
    await sync(third.ch);
    expect(second.inbox.messages.map((m) => `${body(m)}${m.fields.redelivered ? '*' : ''}`)).toEqual(['m3', 'm4', 'm1*', 'm2*']);
    expect(third.inbox.bodies).toEqual([]);
    await ch.deleteQueue('sac-3');
  });

  it('when the active consumer\'s channel closes, its unacked messages are requeued to the next consumer, in order, first', async () => {
    const ch = await clients.channel();
    await ch.assertQueue('sac-4', { exclusive: false, autoDelete: false, arguments: SAC });
    const first = await consumerOn('sac-4', { prefetch: 3 });
    const second = await consumerOn('sac-4', {});
    await publish(ch, 'sac-4', range('m', 5));
    await first.inbox.waitFor(3);
    first.ch.ack(first.inbox.messages[1]!); // m2 done; m1 and m3 unacked
    await first.inbox.waitFor(4);
    await sync(first.ch);
    await first.ch.close();
    await second.inbox.waitFor(4);
    await sync(second.ch);
    expect(first.inbox.bodies).toEqual(['m1', 'm2', 'm3', 'm4']);
    expect(second.inbox.messages.map((m) => `${body(m)}${m.fields.redelivered ? '*' : ''}`)).toEqual(['m1*', 'm3*', 'm4*', 'm5']);
    await ch.deleteQueue('sac-4');
  });

  it('an exclusive consumer on a single-active-consumer queue is refused (403 exclusive use)', async () => {
    const ch = await clients.channel();
    await ch.assertQueue('sac-excl', { exclusive: true, arguments: SAC });
    await expectChannelError(ch, () => ch.consume('sac-excl', () => {}, { exclusive: true }), 403, "ACCESS_REFUSED - queue 'sac-excl' in vhost '/' in exclusive use");
  });

  it('x-single-active-consumer false: ordinary round-robin', async () => {
    const ch = await clients.channel();
    await ch.assertQueue('sac-off', { exclusive: false, autoDelete: true, arguments: { 'x-single-active-consumer': false } });
    const a = await consumerOn('sac-off', { noAck: true });
    const b = await consumerOn('sac-off', { noAck: true });
    await publish(ch, 'sac-off', range('m', 4));
    await a.inbox.waitFor(2);
    await b.inbox.waitFor(2);
    expect(a.inbox.bodies).toEqual(['m1', 'm3']);
    expect(b.inbox.bodies).toEqual(['m2', 'm4']);
  });
});
