/**
 * Queues of the virtual-host model through amqplib: declare (server-named,
 * passive, equivalence, counts), bind/unbind, purge, delete (if-empty,
 * if-unused, consumer cancellation), exclusive and auto-delete lifetimes,
 * and the "last declared queue" shortcut for empty queue names.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { Broker } from '../../src/index.js';
import { eventually, startBroker } from '../helpers/broker.js';
import { WAIT_MS } from '../helpers/wait.js';
import { Clients, consume, drainBodies, expectChannelError, rawRpc, rawSend, sync } from '../helpers/model.js';

let broker: Broker;
const clients = new Clients(() => broker);
beforeAll(async () => { broker = await startBroker(); });
afterEach(() => clients.closeAll());
afterAll(() => broker.stop());

const LOCKED = (q: string): string => `RESOURCE_LOCKED - cannot obtain exclusive access to locked queue '${q}' in vhost '/'`;

describe('queue.declare', () => {
  it('server-named queues are amq.gen- and 22 URL-safe characters, all different', async () => {
    const ch = await clients.channel();
    const names = new Set<string>();
    for (let i = 0; i < 20; i++) {
      const ok = await ch.assertQueue('', { exclusive: true });
      expect(ok.queue).toMatch(/^amq\.gen-[A-Za-z0-9_-]{22}$/);
      expect(ok).toMatchObject({ messageCount: 0, consumerCount: 0 });
      names.add(ok.queue);
    }
    expect(names.size).toBe(20);
    // Redeclaring a server-named queue passively works; naming it in a non-passive declare is refused (reserved prefix).
    const [first] = names;
    expect((await ch.checkQueue(first!)).queue).toBe(first);
    await expectChannelError(ch, () => ch.assertQueue(first!, { exclusive: true }), 403, 'ACCESS_REFUSED');
  });

  it('declare-ok carries the ready message count and the consumer count', async () => {
    const conn = await clients.connect();
    const ch = await clients.channel(conn);
    await ch.assertQueue('q-counts', { exclusive: true });
    for (let i = 0; i < 5; i++) ch.sendToQueue('q-counts', Buffer.from(`${i}`));
    await sync(ch);
    expect(await ch.checkQueue('q-counts')).toEqual({ queue: 'q-counts', messageCount: 5, consumerCount: 0 });
    const got = await ch.get('q-counts'); // now unacked: not counted
    expect(got).not.toBe(false);
    const ch2 = await clients.channel(conn);
    await ch2.prefetch(1);
    const inbox = await consume(ch2, 'q-counts');
    await inbox.waitFor(1);
    expect(await ch.assertQueue('q-counts', { exclusive: true })).toEqual({ queue: 'q-counts', messageCount: 3, consumerCount: 1 });
    await ch2.cancel(inbox.tag);
    expect(await ch.checkQueue('q-counts')).toEqual({ queue: 'q-counts', messageCount: 3, consumerCount: 0 });
  });

  it('passive declare of a missing queue is 404', async () => {
    const ch = await clients.channel();
    await expectChannelError(ch, () => ch.checkQueue('nope'), 404, "NOT_FOUND - no queue 'nope' in vhost '/'");
  });

  it('a queue named amq.* is 403', async () => {
    const ch = await clients.channel();
    await expectChannelError(ch, () => ch.assertQueue('amq.foo'), 403, "ACCESS_REFUSED - queue name 'amq.foo' contains reserved prefix 'amq.*'");
  });

  it.each([
    ['durable', { durable: true }, "PRECONDITION_FAILED - inequivalent arg 'durable' for queue 'q-eq' in vhost '/': received 'true' but current is 'false'"],
    ['auto_delete', { durable: false, autoDelete: true }, "PRECONDITION_FAILED - inequivalent arg 'auto_delete' for queue 'q-eq' in vhost '/': received 'true' but current is 'false'"],
    // amqplib sends 2000 and 1000 as 'short', 10 as 'byte': the texts name the types as sent, as RabbitMQ does.
    ['x-message-ttl', { durable: false, messageTtl: 2000 }, "PRECONDITION_FAILED - inequivalent arg 'x-message-ttl' for queue 'q-eq' in vhost '/': received the value '2000' of type 'short' but current is the value '1000' of type 'short'"],
    ['x-max-length', { durable: false, messageTtl: 1000, maxLength: 10 }, "PRECONDITION_FAILED - inequivalent arg 'x-max-length' for queue 'q-eq' in vhost '/': received the value '10' of type 'byte' but current is none"],
  ])('redeclare with a different %s is 406', async (_what, options, text) => {
    const conn = await clients.connect();
    const ch = await clients.channel(conn);
    await ch.assertQueue('q-eq', { durable: false, messageTtl: 1000 });
    await expectChannelError(ch, () => ch.assertQueue('q-eq', options), 406, text);
    await (await clients.channel(conn)).deleteQueue('q-eq');
  });

  it('a missing compared argument shows as none; uncompared arguments are ignored', async () => {
    const ch = await clients.channel();
    await ch.assertQueue('q-eq-none', { durable: false, arguments: { 'x-custom': 'a' } });
    await ch.assertQueue('q-eq-none', { durable: false, arguments: { 'x-custom': 'b' } });
    await expectChannelError(ch, () => ch.assertQueue('q-eq-none', { durable: false, expires: 60000 }), 406, "inequivalent arg 'x-expires' for queue 'q-eq-none' in vhost '/': received the value '60000' of type 'signedint' but current is none");
    const ch2 = await clients.channel();
    await ch2.deleteQueue('q-eq-none');
  });

  it('honours nowait for declare, bind, purge and delete', async () => {
    const ch = await clients.channel();
    rawSend(ch, 'QueueDeclare', { queue: 'q-nowait', durable: false, exclusive: false, autoDelete: false, nowait: true, arguments: {} });
    rawSend(ch, 'QueueBind', { queue: 'q-nowait', exchange: 'amq.direct', routingKey: 'nw', nowait: true, arguments: {} });
    ch.publish('amq.direct', 'nw', Buffer.from('1'));
    rawSend(ch, 'QueuePurge', { queue: 'q-nowait', nowait: true });
    ch.publish('amq.direct', 'nw', Buffer.from('2'));
    // Any stray *-ok would be taken as the reply to this RPC and fail it.
    expect(await ch.checkQueue('q-nowait')).toEqual({ queue: 'q-nowait', messageCount: 1, consumerCount: 0 });
    rawSend(ch, 'QueueDelete', { queue: 'q-nowait', ifUnused: false, ifEmpty: false, nowait: true });
    await expectChannelError(ch, () => ch.checkQueue('q-nowait'), 404, "no queue 'q-nowait'");
  });
});

describe('queue.bind / queue.unbind', () => {
  it('binds and unbinds; unbinding what is not bound is fine', async () => {
    const ch = await clients.channel();
    const { queue: q } = await ch.assertQueue('', { exclusive: true });
    await ch.bindQueue(q, 'amq.direct', 'b1');
    await ch.bindQueue(q, 'amq.direct', 'b1'); // idempotent
    ch.publish('amq.direct', 'b1', Buffer.from('bound'));
    expect(await drainBodies(ch, q)).toEqual(['bound']);
    await ch.unbindQueue(q, 'amq.direct', 'b1');
    ch.publish('amq.direct', 'b1', Buffer.from('unbound'));
    expect(await drainBodies(ch, q)).toEqual([]);
    await ch.unbindQueue(q, 'amq.direct', 'b1');
    await ch.unbindQueue(q, 'amq.topic', 'never-bound');
    await ch.unbindQueue(q, 'amq.headers', '', { a: 1 });
  });

  it('binding a missing queue or exchange is 404', async () => {
    const conn = await clients.connect();
    const ch = await clients.channel(conn);
    await expectChannelError(ch, () => ch.bindQueue('nope', 'amq.direct', 'k'), 404, "NOT_FOUND - no queue 'nope' in vhost '/'");
    const ch2 = await clients.channel(conn);
    await ch2.assertQueue('q-bind-404', { exclusive: true });
    await expectChannelError(ch2, () => ch2.bindQueue('q-bind-404', 'nope-x', 'k'), 404, "NOT_FOUND - no exchange 'nope-x' in vhost '/'");
  });

  it("deleting a queue removes its bindings (the queue name is free for a fresh queue)", async () => {
    const ch = await clients.channel();
    await ch.assertQueue('q-rebind', { exclusive: true });
    await ch.bindQueue('q-rebind', 'amq.fanout', '');
    await ch.deleteQueue('q-rebind');
    await ch.assertQueue('q-rebind', { exclusive: true });
    ch.publish('amq.fanout', '', Buffer.from('fanout'));
    expect(await drainBodies(ch, 'q-rebind')).toEqual([]);
    await ch.bindQueue('q-rebind', 'amq.fanout', ''); // a fresh binding, not mistaken for the old one
    ch.publish('amq.fanout', '', Buffer.from('rebound'));
    expect(await drainBodies(ch, 'q-rebind')).toEqual(['rebound']);
  });
});

describe('queue.purge', () => {
  it('removes ready messages, returns their count, and leaves unacked ones alone', async () => {
    const ch = await clients.channel();
    const { queue: q } = await ch.assertQueue('', { exclusive: true });
    for (let i = 0; i < 4; i++) ch.sendToQueue(q, Buffer.from(`${i}`));
    const unacked = await ch.get(q);
    expect(unacked && unacked.content.toString()).toBe('0');
    expect(await ch.purgeQueue(q)).toEqual({ messageCount: 3 });
    expect(await ch.purgeQueue(q)).toEqual({ messageCount: 0 });
    expect(await ch.checkQueue(q)).toMatchObject({ messageCount: 0 });
    ch.ack(unacked as import('amqplib').Message); // still a valid delivery after the purge
    await sync(ch);
  });

  it('requeued messages survive a purge that happened while they were unacked', async () => {
    const conn = await clients.connect();
    const ch = await clients.channel(conn);
    await ch.assertQueue('q-purge-unacked', { exclusive: true });
    for (let i = 0; i < 3; i++) ch.sendToQueue('q-purge-unacked', Buffer.from(`${i}`));
    const m = await ch.get('q-purge-unacked');
    expect(await ch.purgeQueue('q-purge-unacked')).toEqual({ messageCount: 2 });
    await ch.close();
    const ch2 = await clients.channel(conn);
    expect(m && m.content.toString()).toBe('0');
    expect(await drainBodies(ch2, 'q-purge-unacked')).toEqual(['0']);
  });

  it('purging a missing queue is 404', async () => {
    const ch = await clients.channel();
    await expectChannelError(ch, () => ch.purgeQueue('nope'), 404, "NOT_FOUND - no queue 'nope' in vhost '/'");
  });
});

describe('queue.delete', () => {
  it('returns the ready count; a missing queue is fine with 0', async () => {
    const ch = await clients.channel();
    const { queue: q } = await ch.assertQueue('', { exclusive: true });
    for (let i = 0; i < 3; i++) ch.sendToQueue(q, Buffer.from(`${i}`));
    expect(await ch.deleteQueue(q)).toEqual({ messageCount: 3 });
    expect(await ch.deleteQueue(q)).toEqual({ messageCount: 0 });
    expect(await ch.deleteQueue('never-existed')).toEqual({ messageCount: 0 });
    await expectChannelError(ch, () => ch.checkQueue(q), 404, `no queue '${q}'`);
  });

  it('if-empty refuses a queue with messages (406)', async () => {
    const conn = await clients.connect();
    const ch = await clients.channel(conn);
    await ch.assertQueue('q-if-empty', { exclusive: true });
    await ch.deleteQueue('q-if-empty', { ifEmpty: true }).then(() => ch.assertQueue('q-if-empty', { exclusive: true }));
    ch.sendToQueue('q-if-empty', Buffer.from('x'));
    await expectChannelError(ch, () => ch.deleteQueue('q-if-empty', { ifEmpty: true }), 406, "PRECONDITION_FAILED - queue 'q-if-empty' in vhost '/' not empty");
    const ch2 = await clients.channel(conn);
    expect(await ch2.checkQueue('q-if-empty')).toMatchObject({ messageCount: 1 });
  });

  it('if-unused refuses a queue with consumers (406)', async () => {
    const conn = await clients.connect();
    const ch = await clients.channel(conn);
    await ch.assertQueue('q-if-unused', { exclusive: true });
    const inbox = await consume(ch, 'q-if-unused');
    const ch2 = await clients.channel(conn);
    await expectChannelError(ch2, () => ch2.deleteQueue('q-if-unused', { ifUnused: true }), 406, "PRECONDITION_FAILED - queue 'q-if-unused' in vhost '/' in use");
    await ch.cancel(inbox.tag);
    expect(await ch.deleteQueue('q-if-unused', { ifUnused: true })).toEqual({ messageCount: 0 });
  });

  it('cancels the consumers (amqplib hands null to the consume callback), on every channel', async () => {
    const conn = await clients.connect();
    const ch = await clients.channel(conn);
    const other = await clients.channel(conn);
    await ch.assertQueue('q-del-consumers', { exclusive: true });
    const cancelEvents: string[] = [];
    ch.on('cancel', (f: { consumerTag: string }) => cancelEvents.push(f.consumerTag));
    const a = await consume(ch, 'q-del-consumers');
    const b = await consume(other, 'q-del-consumers');
    ch.sendToQueue('q-del-consumers', Buffer.from('x'));
    await eventuallyOneOf([a, b]);
    expect(await other.deleteQueue('q-del-consumers')).toEqual({ messageCount: 0 });
    await a.waitCancelled();
    await b.waitCancelled();
    expect(cancelEvents).toEqual([a.tag]);
    // Both channels stay usable, and cancelling the already-cancelled tag is fine.
    await ch.cancel(a.tag);
    await other.checkExchange('amq.direct');
  });
});

describe('deleting a queue with unacked messages', () => {
  it('leaves the deliveries ackable, and nothing comes back when the channel closes', async () => {
    const conn = await clients.connect();
    const ch = await clients.channel(conn);
    await ch.assertQueue('q-del-unacked', { exclusive: true });
    for (let i = 0; i < 3; i++) ch.sendToQueue('q-del-unacked', Buffer.from(`${i}`));
    const m0 = await ch.get('q-del-unacked');
    const m1 = await ch.get('q-del-unacked');
    expect(await ch.deleteQueue('q-del-unacked')).toEqual({ messageCount: 1 }); // ready ones only
    ch.ack(m0 as import('amqplib').Message);
    ch.nack(m1 as import('amqplib').Message, false, true); // its queue is gone: dropped
    await sync(ch);
    await ch.close();
    const ch2 = await clients.channel(conn);
    await ch2.assertQueue('q-del-unacked', { exclusive: true });
    expect(await drainBodies(ch2, 'q-del-unacked')).toEqual([]);
  });
});

async function eventuallyOneOf(inboxes: { messages: unknown[] }[]): Promise<void> {
  await eventually(() => inboxes.some((x) => x.messages.length > 0), WAIT_MS, 'a delivery');
}

describe('exclusive queues', () => {
  it('belong to their connection: any use from another is 405', async () => {
    const owner = await clients.connect();
    const ch = await clients.channel(owner);
    await ch.assertQueue('q-excl', { exclusive: true });
    ch.sendToQueue('q-excl', Buffer.from('mine'));
    await sync(ch);
    const intruder = await clients.connect();
    const attempts: [string, (c: import('amqplib').Channel) => Promise<unknown>][] = [
      ['declare', (c) => c.assertQueue('q-excl', { exclusive: true })],
      ['declare non-exclusive', (c) => c.assertQueue('q-excl')],
      ['passive declare', (c) => c.checkQueue('q-excl')],
      ['consume', (c) => c.consume('q-excl', () => {})],
      ['get', (c) => c.get('q-excl')],
      ['purge', (c) => c.purgeQueue('q-excl')],
      ['delete', (c) => c.deleteQueue('q-excl')],
      ['bind', (c) => c.bindQueue('q-excl', 'amq.direct', 'k')],
      ['unbind', (c) => c.unbindQueue('q-excl', 'amq.direct', 'k')],
    ];
    for (const [, attempt] of attempts) {
      const c = await clients.channel(intruder);
      await expectChannelError(c, () => attempt(c), 405, LOCKED('q-excl'));
    }
    // Anyone may publish to it, though (publishing does not use the queue, as in RabbitMQ).
    const publisher = await clients.channel(intruder);
    publisher.sendToQueue('q-excl', Buffer.from('from outside'));
    await sync(publisher);
    // Nothing else happened to it.
    expect(await drainBodies(ch, 'q-excl')).toEqual(['mine', 'from outside']);
  });

  it('vanish when their connection closes', async () => {
    const owner = await clients.connect();
    const ch = await clients.channel(owner);
    await ch.assertQueue('q-excl-gone', { exclusive: true });
    const other = await clients.channel();
    await expectChannelError(other, () => other.checkQueue('q-excl-gone'), 405, 'RESOURCE_LOCKED');
    await owner.close();
    const after = await clients.channel();
    await expectChannelError(after, () => after.checkQueue('q-excl-gone'), 404, "no queue 'q-excl-gone'");
    // The name is free again.
    const again = await clients.channel();
    await again.assertQueue('q-excl-gone', { exclusive: true });
  });

  it('redeclaring with a different exclusive flag is 405, from the owner too', async () => {
    const conn = await clients.connect();
    const ch = await clients.channel(conn);
    await ch.assertQueue('q-excl-flag', { exclusive: true });
    await expectChannelError(ch, () => ch.assertQueue('q-excl-flag', { exclusive: false }), 405, LOCKED('q-excl-flag'));
    const ch2 = await clients.channel(conn);
    await ch2.assertQueue('q-shared-flag', { exclusive: false, durable: false });
    await expectChannelError(ch2, () => ch2.assertQueue('q-shared-flag', { exclusive: true, durable: false }), 405, LOCKED('q-shared-flag'));
    const ch3 = await clients.channel(conn);
    await ch3.deleteQueue('q-shared-flag');
  });
});

describe('auto-delete queues', () => {
  it('stay until they had a consumer, and go when the last one is cancelled', async () => {
    const ch = await clients.channel();
    await ch.assertQueue('q-auto', { autoDelete: true, durable: false });
    await ch.checkQueue('q-auto'); // a round trip later: never had a consumer, so it stays
    const a = await consume(ch, 'q-auto');
    const b = await consume(ch, 'q-auto');
    await ch.cancel(a.tag);
    expect(await ch.checkQueue('q-auto')).toMatchObject({ consumerCount: 1 });
    await ch.cancel(b.tag);
    await expectChannelError(ch, () => ch.checkQueue('q-auto'), 404, "no queue 'q-auto'");
  });

  it("go when their last consumer's channel closes", async () => {
    const conn = await clients.connect();
    const ch = await clients.channel(conn);
    await ch.assertQueue('q-auto-close', { autoDelete: true, durable: false });
    await consume(ch, 'q-auto-close');
    await ch.close();
    const ch2 = await clients.channel(conn);
    await expectChannelError(ch2, () => ch2.checkQueue('q-auto-close'), 404, "no queue 'q-auto-close'");
  });

  it("go when their last consumer's connection closes", async () => {
    const conn = await clients.connect();
    const ch = await clients.channel(conn);
    await ch.assertQueue('q-auto-conn', { autoDelete: true, durable: false });
    await consume(ch, 'q-auto-conn');
    await conn.close();
    const ch2 = await clients.channel();
    await expectChannelError(ch2, () => ch2.checkQueue('q-auto-conn'), 404, "no queue 'q-auto-conn'");
  });
});

describe('empty queue name: the last queue declared on the channel', () => {
  it('is used by bind, consume, get, purge and delete', async () => {
    const ch = await clients.channel();
    const { queue: q } = await ch.assertQueue('', { exclusive: true });
    await ch.bindQueue('', 'amq.direct', 'last-k');
    await ch.bindQueue('', 'amq.direct', ''); // empty queue and key: the key is the queue's name
    ch.publish('amq.direct', 'last-k', Buffer.from('by key'));
    ch.publish('amq.direct', q, Buffer.from('by name'));
    ch.publish('amq.direct', '', Buffer.from('empty key'));
    const got = await ch.get('', { noAck: true });
    expect(got && got.content.toString()).toBe('by key');
    expect(await ch.checkQueue('')).toMatchObject({ queue: q, messageCount: 1 });
    ch.sendToQueue(q, Buffer.from('more'));
    expect(await ch.purgeQueue('')).toEqual({ messageCount: 2 });
    ch.sendToQueue(q, Buffer.from('consumed'));
    const inbox = await consume(ch, '', { noAck: true });
    expect((await inbox.waitFor(1)).map((m) => m.content.toString())).toEqual(['consumed']);
    await ch.cancel(inbox.tag);
    ch.sendToQueue(q, Buffer.from('deleted'));
    expect(await ch.deleteQueue('')).toEqual({ messageCount: 1 });
  });

  it('is 404 when the channel declared none', async () => {
    for (const [what, action] of [
      ['get', (c: import('amqplib').Channel) => c.get('')],
      ['consume', (c: import('amqplib').Channel) => c.consume('', () => {})],
      ['purge', (c: import('amqplib').Channel) => c.purgeQueue('')],
      ['bind', (c: import('amqplib').Channel) => c.bindQueue('', 'amq.direct', 'k')],
      ['delete', (c: import('amqplib').Channel) => c.deleteQueue('')],
    ] as const) {
      const ch = await clients.channel();
      const err = await expectChannelError(ch, () => action(ch), 404, 'NOT_FOUND - no previously declared queue');
      expect(err.message, what).toContain('no previously declared queue');
    }
  });

  it('is per channel', async () => {
    const conn = await clients.connect();
    const a = await clients.channel(conn);
    const b = await clients.channel(conn);
    await a.assertQueue('q-last-a', { exclusive: true });
    await b.assertQueue('q-last-b', { exclusive: true });
    a.sendToQueue('q-last-a', Buffer.from('a'));
    b.sendToQueue('q-last-b', Buffer.from('b'));
    await sync(a);
    await sync(b);
    expect(await rawRpc(a, 'QueuePurge', { queue: '' }, 'QueuePurgeOk')).toEqual({ messageCount: 1 });
    expect(await b.checkQueue('')).toMatchObject({ queue: 'q-last-b', messageCount: 1 });
  });
});
