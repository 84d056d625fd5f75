/**
 * Acknowledgements in the virtual-host model through amqplib: delivery tags,
 * ack/nack/reject (single, multiple, requeue), unknown tags, requeue to the
 * original position, and requeue of everything unacked when a channel or
 * connection closes.
 */
import type { Channel, Message } from 'amqplib';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { Broker } from '../../src/index.js';
import { startBroker } from '../helpers/broker.js';
import { Clients, body, consume, drain, drainBodies, expectChannelError, sync, tagOnly } from '../helpers/model.js';

let broker: Broker;
const clients = new Clients(() => broker);
beforeAll(async () => { broker = await startBroker(); });
afterEach(() => clients.closeAll());
afterAll(() => broker.stop());

/** A shared (non-exclusive) queue with messages "1".."n", so other connections can look at it. */
async function queueWith(ch: Channel, name: string, n: number): Promise<string> {
  await ch.assertQueue(name, { durable: false });
  await ch.purgeQueue(name);
  for (let i = 1; i <= n; i++) ch.sendToQueue(name, Buffer.from(`${i}`));
  await sync(ch);
  return name;
}

async function getAll(ch: Channel, q: string, n: number): Promise<Message[]> {
  const out: Message[] = [];
  for (let i = 0; i < n; i++) {
    const m = await ch.get(q);
    if (m === false) throw new Error(`queue ${q} ran dry after ${i}`);
    out.push(m);
  }
  return out;
}

/** Ready messages as "body" or "body*" (redelivered), taken off the queue. */
async function contents(ch: Channel, q: string): Promise<string[]> {
  return (await drain(ch, q)).map((m) => `${body(m)}${m.fields.redelivered ? '*' : ''}`);
}

describe('delivery tags', () => {
  it('count from 1 per channel, shared by get and deliver', async () => {
    const conn = await clients.connect();
    const a = await clients.channel(conn);
    const b = await clients.channel(conn);
    const q = await queueWith(a, 'q-tags', 6);
    const tags: number[] = [];
    for (const m of await getAll(a, q, 2)) tags.push(m.fields.deliveryTag);
    const noAck = await a.get(q, { noAck: true });
    tags.push(noAck ? noAck.fields.deliveryTag : -1);
    const inbox = await consume(a, q);
    await inbox.waitFor(3);
    tags.push(...inbox.messages.map((m) => m.fields.deliveryTag));
    expect(tags).toEqual([1, 2, 3, 4, 5, 6]);
    await a.cancel(inbox.tag);
    a.nackAll(true);
    await sync(a);
    const onB = await getAll(b, q, 2);
    expect(onB.map((m) => m.fields.deliveryTag)).toEqual([1, 2]);
  });
});

describe('basic.ack', () => {
  it('single and multiple', async () => {
    const ch = await clients.channel();
    const q = await queueWith(ch, 'q-ack', 5);
    const ms = await getAll(ch, q, 5);
    ch.ack(ms[1]!); // 2
    ch.ack(ms[3]!, true); // 1, 3, 4
    await ch.close(); // only 5 comes back
    const ch2 = await clients.channel();
    expect(await contents(ch2, q)).toEqual(['5*']);
  });

  it('multiple with tag 0 acks everything outstanding', async () => {
    const ch = await clients.channel();
    const q = await queueWith(ch, 'q-ack-all', 4);
    await getAll(ch, q, 3);
    ch.ackAll();
    await ch.close();
    const ch2 = await clients.channel();
    expect(await contents(ch2, q)).toEqual(['4']);
  });

  it.each([
    ['an unknown tag', async (ch: Channel) => { ch.ack(tagOnly(99)); }, 99],
    ['tag 0 without multiple', async (ch: Channel) => { ch.ack(tagOnly(0)); }, 0],
    ['an already acked tag', async (ch: Channel, ms: Message[]) => { ch.ack(ms[0]!); ch.ack(ms[0]!); }, 1],
    ['an already acked tag, acked again with multiple', async (ch: Channel, ms: Message[]) => { ch.ack(ms[1]!); ch.ack(ms[1]!, true); }, 2],
    ['a nack of an acked tag', async (ch: Channel, ms: Message[]) => { ch.ack(ms[0]!); ch.nack(ms[0]!); }, 1],
    ['a reject of an unknown tag', async (ch: Channel) => { ch.reject(tagOnly(7)); }, 7],
  ])('%s is 406 unknown delivery tag', async (_what, act, tag) => {
    const conn = await clients.connect();
    const ch = await clients.channel(conn);
    const q = await queueWith(ch, `q-unknown-${tag}`, 2);
    const ms = await getAll(ch, q, 2);
    await expectChannelError(ch, () => act(ch, ms), 406, `PRECONDITION_FAILED - unknown delivery tag ${tag}`);
    // The channel error requeued what was still unacked; the connection is fine.
    const ch2 = await clients.channel(conn);
    await ch2.checkQueue(q);
  });

  it('a tag from another channel is unknown', async () => {
    const conn = await clients.connect();
    const a = await clients.channel(conn);
    const b = await clients.channel(conn);
    const q = await queueWith(a, 'q-other-channel', 2);
    await getAll(a, q, 1);
    await expectChannelError(b, () => { b.ack(tagOnly(1)); return sync(b); }, 406, 'unknown delivery tag 1');
    await sync(a);
  });
});

describe('basic.nack / basic.reject', () => {
  it('without requeue drop the message', async () => {
    const ch = await clients.channel();
    const q = await queueWith(ch, 'q-drop', 4);
    const ms = await getAll(ch, q, 3);
    ch.nack(ms[0]!, false, false);
    ch.reject(ms[1]!, false);
    ch.nack(ms[2]!, true, false);
    await sync(ch);
    expect(await contents(ch, q)).toEqual(['4']);
    await ch.close();
    const ch2 = await clients.channel();
    expect(await contents(ch2, q)).toEqual([]);
  });

  it('requeued messages return to their original position, marked redelivered', async () => {
    const ch = await clients.channel();
    const q = await queueWith(ch, 'q-position', 5);
    const ms = await getAll(ch, q, 5);
    ch.nack(ms[3]!, false, true); // 4
    ch.nack(ms[1]!, false, true); // 2
    await sync(ch);
    expect(await contents(ch, q)).toEqual(['2*', '4*']);
  });

  it('requeue lands between ready messages in seq order', async () => {
    const ch = await clients.channel();
    const q = await queueWith(ch, 'q-position-2', 6);
    const ms = await getAll(ch, q, 3); // 1, 2, 3 unacked; 4, 5, 6 ready
    ch.reject(ms[2]!, true); // 3 goes ahead of 4
    ch.reject(ms[0]!, true); // 1 ahead of everything
    await sync(ch);
    expect(await ch.checkQueue(q)).toMatchObject({ messageCount: 5 });
    ch.ack(ms[1]!);
    expect(await contents(ch, q)).toEqual(['1*', '3*', '4', '5', '6']);
  });

  it('nack multiple requeues every outstanding tag up to the given one', async () => {
    const ch = await clients.channel();
    const q = await queueWith(ch, 'q-nack-multi', 5);
    const ms = await getAll(ch, q, 5);
    ch.ack(ms[1]!); // 2 is gone
    ch.nack(ms[3]!, true, true); // 1, 3, 4
    await sync(ch);
    expect(await contents(ch, q)).toEqual(['1*', '3*', '4*']);
    ch.nackAll(true); // 5
    await sync(ch);
    expect(await contents(ch, q)).toEqual(['5*']);
  });

  it('a requeued message goes to a waiting consumer, redelivered', async () => {
    const ch = await clients.channel();
    const q = await queueWith(ch, 'q-requeue-consumer', 0);
    await ch.prefetch(1);
    const inbox = await consume(ch, q, {}, (m, box) => {
      if (box.messages.length <= 2) ch.reject(m, true);
      else ch.ack(m);
    });
    ch.sendToQueue(q, Buffer.from('x'));
    await inbox.waitFor(3);
    expect(inbox.messages.map((m) => [body(m), m.fields.redelivered, m.fields.deliveryTag])).toEqual([
      ['x', false, 1],
      ['x', true, 2],
      ['x', true, 3],
    ]);
  });
});

describe('closing requeues everything unacked', () => {
  it('a closing channel requeues its unacked messages in their original order', async () => {
    const conn = await clients.connect();
    const ch = await clients.channel(conn);
    const q = await queueWith(ch, 'q-close-ch', 6);
    const inbox = await consume(ch, q);
    await inbox.waitFor(6);
    ch.ack(inbox.messages[2]!); // 3
    ch.nack(inbox.messages[4]!, false, false); // 5 dropped
    await ch.close();
    const ch2 = await clients.channel(conn);
    expect(await contents(ch2, q)).toEqual(['1*', '2*', '4*', '6*']);
  });

  it('a channel closed by an error requeues too', async () => {
    const conn = await clients.connect();
    const ch = await clients.channel(conn);
    const q = await queueWith(ch, 'q-close-err', 3);
    await getAll(ch, q, 3);
    await expectChannelError(ch, () => ch.checkExchange('nope'), 404, 'NOT_FOUND');
    const ch2 = await clients.channel(conn);
    expect(await contents(ch2, q)).toEqual(['1*', '2*', '3*']);
  });

  it('a closing connection requeues the unacked messages of all its channels', async () => {
    const conn = await clients.connect();
    const a = await clients.channel(conn);
    const b = await clients.channel(conn);
    const q = await queueWith(a, 'q-close-conn', 6);
    await getAll(a, q, 2);
    const inbox = await consume(b, q);
    await inbox.waitFor(4);
    const watcher = await clients.channel();
    await conn.close();
    expect(await contents(watcher, q)).toEqual(['1*', '2*', '3*', '4*', '5*', '6*']);
  });

  it('a requeued message is delivered to the other consumers', async () => {
    const conn = await clients.connect();
    const holder = await clients.channel(conn);
    const q = await queueWith(holder, 'q-close-handoff', 3);
    await getAll(holder, q, 3);
    const other = await clients.channel();
    const inbox = await consume(other, q, { noAck: true });
    await holder.close();
    await inbox.waitFor(3);
    expect(inbox.messages.map((m) => [body(m), m.fields.redelivered])).toEqual([
      ['1', true],
      ['2', true],
      ['3', true],
    ]);
  });
});

describe('many messages', () => {
  it('acks interleaved out of order over thousands of deliveries leave nothing behind', async () => {
    const ch = await clients.channel();
    const q = await queueWith(ch, 'q-many', 0);
    const n = 3000;
    await ch.prefetch(100);
    const pending: Message[] = [];
    const inbox = await consume(ch, q, {}, (m) => {
      pending.push(m);
      if (pending.length >= 10) {
        // ack in a scrambled order: last, first, then the rest with multiple
        ch.ack(pending.pop()!);
        ch.ack(pending.shift()!);
        ch.ack(pending[pending.length - 1]!, true);
        pending.length = 0;
      }
    });
    for (let i = 0; i < n; i++) ch.sendToQueue(q, Buffer.from(`${i}`));
    await inbox.waitFor(n, 20_000);
    ch.ackAll();
    await sync(ch);
    expect(new Set(inbox.bodies).size).toBe(n);
    expect(inbox.messages.every((m) => !m.fields.redelivered)).toBe(true);
    expect(await ch.checkQueue(q)).toMatchObject({ messageCount: 0 });
    await ch.close();
    const ch2 = await clients.channel();
    expect(await drainBodies(ch2, q)).toEqual([]);
  });
});
