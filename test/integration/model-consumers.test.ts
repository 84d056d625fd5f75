/**
 * Consumers of the virtual-host model through amqplib: consume/cancel, tags,
 * exclusive consumers, no-ack, round-robin dispatch, basic.qos (per consumer,
 * per channel, both), basic.get and basic.recover.
 */
import type { Channel } from 'amqplib';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { Broker } from '../../src/index.js';
import { eventually, startBroker } from '../helpers/broker.js';
import { Clients, body, consume, drain, expectChannelError, expectConnectionError, rawRpc, settled, sync, type Inbox } from '../helpers/model.js';
import { WAIT_MS } from '../helpers/wait.js';

let broker: Broker;
const clients = new Clients(() => broker);
beforeAll(async () => { broker = await startBroker(); });
afterEach(() => clients.closeAll());
afterAll(() => broker.stop());

async function queueWith(ch: Channel, n: number, name = ''): Promise<string> {
  const { queue } = await ch.assertQueue(name, { exclusive: true });
  for (let i = 0; i < n; i++) ch.sendToQueue(queue, Buffer.from(`${i}`));
  await sync(ch);
  return queue;
}


describe('basic.consume / basic.cancel', () => {
  it('delivers with the consumer tag, delivery tag, exchange and routing key', async () => {
    const ch = await clients.channel();
    const q = await queueWith(ch, 0);
    const inbox = await consume(ch, q, { consumerTag: 'my-tag' });
    expect(inbox.tag).toBe('my-tag');
    ch.publish('', q, Buffer.from('hello'));
    const [m] = await inbox.waitFor(1);
    expect(m!.fields).toEqual({ consumerTag: 'my-tag', deliveryTag: 1, redelivered: false, exchange: '', routingKey: q });
    expect(body(m!)).toBe('hello');
  });

  it('generates amq.ctag- tags when none is given, unique per consumer', async () => {
    const ch = await clients.channel();
    const q = await queueWith(ch, 0);
    const tags = new Set<string>();
    for (let i = 0; i < 5; i++) {
      const { consumerTag } = await ch.consume(q, () => {});
      expect(consumerTag).toMatch(/^amq\.ctag-[A-Za-z0-9_-]{22}$/);
      tags.add(consumerTag);
    }
    expect(tags.size).toBe(5);
    expect(await ch.checkQueue(q)).toMatchObject({ consumerCount: 5 });
  });

  it('tags are per channel: the same tag on two channels is fine', async () => {
    const conn = await clients.connect();
    const a = await clients.channel(conn);
    const b = await clients.channel(conn);
    const q = await queueWith(a, 0);
    await a.consume(q, () => {}, { consumerTag: 'same' });
    await b.consume(q, () => {}, { consumerTag: 'same' });
    expect(await a.checkQueue(q)).toMatchObject({ consumerCount: 2 });
  });

  it('reusing a tag on the same channel is a 530 connection error', async () => {
    const conn = await clients.connect();
    const ch = await clients.channel(conn);
    const q = await queueWith(ch, 0);
    await ch.consume(q, () => {}, { consumerTag: 't' });
    await expectConnectionError(conn, () => ch.consume(q, () => {}, { consumerTag: 't' }), 530, "NOT_ALLOWED - attempt to reuse consumer tag 't'");
  });

  it('consuming from a missing queue is 404', async () => {
    const ch = await clients.channel();
    await expectChannelError(ch, () => ch.consume('nope', () => {}), 404, "NOT_FOUND - no queue 'nope' in vhost '/'");
  });

  it('an exclusive consumer needs the queue to itself, and then keeps it (403)', async () => {
    const conn = await clients.connect();
    const ch = await clients.channel(conn);
    await ch.assertQueue('q-excl-consumer', { exclusive: true });
    const first = await consume(ch, 'q-excl-consumer');
    const c2 = await clients.channel(conn);
    await expectChannelError(c2, () => c2.consume('q-excl-consumer', () => {}, { exclusive: true }), 403, "ACCESS_REFUSED - queue 'q-excl-consumer' in vhost '/' in exclusive use");
    await ch.cancel(first.tag);
    const excl = await consume(ch, 'q-excl-consumer', { exclusive: true });
    const c3 = await clients.channel(conn);
    await expectChannelError(c3, () => c3.consume('q-excl-consumer', () => {}), 403, "ACCESS_REFUSED - queue 'q-excl-consumer' in vhost '/' in exclusive use");
    const c4 = await clients.channel(conn);
    await expectChannelError(c4, () => c4.consume('q-excl-consumer', () => {}, { exclusive: true }), 403, 'in exclusive use');
    ch.sendToQueue('q-excl-consumer', Buffer.from('only me'));
    expect((await excl.waitFor(1)).map(body)).toEqual(['only me']);
    await ch.cancel(excl.tag);
    await consume(ch, 'q-excl-consumer'); // free again
  });

  it('no-ack consumers take messages off the queue for good', async () => {
    const conn = await clients.connect();
    const ch = await clients.channel(conn);
    const q = await queueWith(ch, 3, 'q-noack');
    const inbox = await consume(ch, q, { noAck: true });
    expect((await inbox.waitFor(3)).map(body)).toEqual(['0', '1', '2']);
    await ch.close();
    const ch2 = await clients.channel(conn);
    expect(await ch2.checkQueue(q)).toMatchObject({ messageCount: 0, consumerCount: 0 });
  });

  it('cancel stops deliveries; unacked deliveries stay unacked (ack works, close requeues)', async () => {
    const conn = await clients.connect();
    const ch = await clients.channel(conn);
    const q = await queueWith(ch, 0, 'q-cancel');
    const inbox = await consume(ch, q);
    ch.sendToQueue(q, Buffer.from('a'));
    ch.sendToQueue(q, Buffer.from('b'));
    await inbox.waitFor(2);
    expect(await ch.cancel(inbox.tag)).toEqual({ consumerTag: inbox.tag });
    ch.sendToQueue(q, Buffer.from('c'));
    await settled([ch], [inbox]);
    expect(inbox.bodies).toEqual(['a', 'b']);
    ch.ack(inbox.messages[0]!);
    await ch.close(); // 'b' goes back, ahead of 'c'
    const ch2 = await clients.channel(conn);
    const left = await drain(ch2, q);
    expect(left.map(body)).toEqual(['b', 'c']);
    expect(left.map((m) => m.fields.redelivered)).toEqual([true, false]);
  });

  it('honours nowait on basic.cancel (no cancel-ok)', async () => {
    const ch = await clients.channel();
    const q = await queueWith(ch, 0);
    const inbox = await consume(ch, q);
    const { rawSend } = await import('../helpers/model.js');
    rawSend(ch, 'BasicCancel', { consumerTag: inbox.tag, nowait: true });
    // A stray cancel-ok would be taken as the reply to this RPC and fail it.
    expect(await ch.checkQueue(q)).toMatchObject({ consumerCount: 0 });
    ch.sendToQueue(q, Buffer.from('after cancel'));
    await settled([ch], [inbox]);
    expect(inbox.messages).toEqual([]);
  });

  it('cancelling an unknown tag is fine', async () => {
    const ch = await clients.channel();
    expect(await ch.cancel('never-was')).toEqual({ consumerTag: 'never-was' });
    await sync(ch);
  });
});

describe('dispatch', () => {
  it('round-robins among consumers with credit', async () => {
    const conn = await clients.connect();
    const ch = await clients.channel(conn);
    const other = await clients.channel(conn);
    const q = await queueWith(ch, 0);
    const a = await consume(ch, q);
    const b = await consume(ch, q);
    const c = await consume(other, q);
    for (let i = 0; i < 30; i++) ch.sendToQueue(q, Buffer.from(`${i}`));
    await eventuallyTotal([a, b, c], 30);
    for (const inbox of [a, b, c]) {
      expect(inbox.messages.length).toBe(10);
      const ns = inbox.bodies.map(Number);
      // Strict rotation: each consumer sees every third message.
      expect(new Set(ns.map((n) => n % 3)).size).toBe(1);
    }
  });

  it('skips consumers without credit and resumes them when they ack', async () => {
    const conn = await clients.connect();
    const ch = await clients.channel(conn);
    const q = await queueWith(ch, 0);
    await ch.prefetch(1);
    const slow = await consume(ch, q);
    await ch.prefetch(0);
    const fast = await consume(ch, q, {}, (m) => ch.ack(m));
    for (let i = 0; i < 20; i++) ch.sendToQueue(q, Buffer.from(`${i}`));
    await eventuallyTotal([slow, fast], 20);
    expect(slow.messages.length).toBe(1);
    expect(fast.messages.length).toBe(19);
    ch.ack(slow.messages[0]!);
    ch.sendToQueue(q, Buffer.from('after'));
    ch.sendToQueue(q, Buffer.from('after2'));
    await eventuallyTotal([slow, fast], 22);
    expect(slow.messages.length).toBe(2);
  });
});

/** Waits for `n` deliveries in all, then checks (after a barrier on every consuming channel) that no more came. */
async function eventuallyTotal(inboxes: Inbox[], n: number): Promise<void> {
  const total = (): number => inboxes.reduce((s, x) => s + x.messages.length, 0);
  await eventually(() => total() >= n, WAIT_MS, `${n} deliveries (have ${inboxes.map((x) => x.messages.length).join('+')})`);
  await settled([], inboxes);
  expect(total()).toBe(n);
}

describe('basic.qos', () => {
  it('prefetch_count (global=false) limits each consumer created afterwards', async () => {
    const conn = await clients.connect();
    const ch = await clients.channel(conn);
    const q = await queueWith(ch, 10);
    const unlimited = await consume(ch, q);
    await eventuallyTotal([unlimited], 10);
    const q2 = await queueWith(ch, 0);
    await ch.prefetch(2);
    const a = await consume(ch, q2);
    const b = await consume(ch, q2);
    for (let i = 0; i < 10; i++) ch.sendToQueue(q2, Buffer.from(`${i}`));
    await eventuallyTotal([a, b], 4);
    expect([a.messages.length, b.messages.length]).toEqual([2, 2]);
    ch.ack(a.messages[0]!);
    await eventuallyTotal([a, b], 5);
    expect(a.messages.length).toBe(3);
    // The first consumer, created before basic.qos, is still unlimited.
    for (let i = 0; i < 5; i++) ch.sendToQueue(q, Buffer.from(`more-${i}`));
    await eventuallyTotal([unlimited], 15);
  });

  it('global=true limits the whole channel', async () => {
    const conn = await clients.connect();
    const ch = await clients.channel(conn);
    const q = await queueWith(ch, 10);
    await ch.prefetch(3, true);
    const a = await consume(ch, q);
    const b = await consume(ch, q);
    await eventuallyTotal([a, b], 3);
    const first = a.messages[0] ?? b.messages[0]!;
    ch.ack(first);
    await eventuallyTotal([a, b], 4);
    // Raising the limit lets more flow at once, without acks.
    await ch.prefetch(6, true);
    await eventuallyTotal([a, b], 7);
  });

  it('per-consumer and per-channel limits apply together', async () => {
    const conn = await clients.connect();
    const ch = await clients.channel(conn);
    const q = await queueWith(ch, 20);
    await ch.prefetch(1, false);
    await ch.prefetch(3, true);
    const inboxes: Inbox[] = [];
    for (let i = 0; i < 4; i++) inboxes.push(await consume(ch, q));
    await eventuallyTotal(inboxes, 3); // 4 consumers × 1, but the channel allows 3
    expect(inboxes.every((x) => x.messages.length <= 1)).toBe(true);
    const ch2 = await clients.channel(conn);
    await ch2.prefetch(5, false);
    await ch2.prefetch(2, true);
    const single = await consume(ch2, q);
    await eventuallyTotal([single], 2); // consumer allows 5, channel 2
  });

  it('prefetch_size other than 0 is a 540 connection error', async () => {
    const conn = await clients.connect();
    const ch = await clients.channel(conn);
    await expectConnectionError(conn, () => rawRpc(ch, 'BasicQos', { prefetchSize: 1024, prefetchCount: 0, global: false }, 'BasicQosOk'), 540, 'NOT_IMPLEMENTED - prefetch_size!=0 (1024)');
  });
});

describe('basic.get', () => {
  it('get-ok reports the ready messages left; get-empty when none', async () => {
    const ch = await clients.channel();
    const q = await queueWith(ch, 3);
    const counts: number[] = [];
    for (let i = 0; i < 3; i++) {
      const m = await ch.get(q);
      if (m === false) throw new Error('expected a message');
      expect(body(m)).toBe(`${i}`);
      expect(m.fields).toMatchObject({ deliveryTag: i + 1, redelivered: false, exchange: '', routingKey: q });
      counts.push(m.fields.messageCount);
    }
    expect(counts).toEqual([2, 1, 0]);
    expect(await ch.get(q)).toBe(false);
    ch.ackAll();
    await sync(ch);
    expect(await ch.checkQueue(q)).toMatchObject({ messageCount: 0 });
  });

  it('get-ok message_count does not count unacked messages', async () => {
    const ch = await clients.channel();
    const q = await queueWith(ch, 4);
    await ch.get(q);
    await ch.get(q);
    ch.nack((await ch.get(q)) as import('amqplib').Message, false, true); // back in the queue
    const m = await ch.get(q);
    expect(m && m.fields.messageCount).toBe(1); // the requeued one, now ahead of '3'
  });

  it('getting from a missing queue is 404', async () => {
    const ch = await clients.channel();
    await expectChannelError(ch, () => ch.get('nope'), 404, "NOT_FOUND - no queue 'nope' in vhost '/'");
  });
});

describe('basic.recover', () => {
  it('requeue=true puts every unacked message of the channel back, redelivered', async () => {
    const conn = await clients.connect();
    const ch = await clients.channel(conn);
    const q = await queueWith(ch, 4);
    for (let i = 0; i < 3; i++) await ch.get(q);
    await ch.recover();
    const again = await drain(ch, q);
    expect(again.map(body)).toEqual(['0', '1', '2', '3']);
    expect(again.map((m) => m.fields.redelivered)).toEqual([true, true, true, false]);
    // The old tags are gone.
    await expectChannelError(ch, () => { ch.ack({ fields: { deliveryTag: 1 } } as import('amqplib').Message); return sync(ch); }, 406, 'PRECONDITION_FAILED - unknown delivery tag 1');
  });

  it('redelivers to consumers with fresh delivery tags', async () => {
    const ch = await clients.channel();
    const q = await queueWith(ch, 2);
    const inbox = await consume(ch, q);
    await inbox.waitFor(2);
    await ch.recover();
    await inbox.waitFor(4);
    expect(inbox.messages.map((m) => [body(m), m.fields.deliveryTag, m.fields.redelivered])).toEqual([
      ['0', 1, false],
      ['1', 2, false],
      ['0', 3, true],
      ['1', 4, true],
    ]);
    ch.ack(inbox.messages[3]!, true);
    await sync(ch);
    expect(await ch.checkQueue(q)).toMatchObject({ messageCount: 0 });
  });

  it('requeue=false is a 540 connection error', async () => {
    const conn = await clients.connect();
    const ch = await clients.channel(conn);
    await expectConnectionError(conn, () => rawRpc(ch, 'BasicRecover', { requeue: false }, 'BasicRecoverOk'), 540, 'NOT_IMPLEMENTED - requeue=false');
  });
});
