/**
 * Priority queues (x-max-priority, RabbitMQ extension) through amqplib:
 * higher priorities first, FIFO within a priority, no priority = 0, above the
 * maximum = the maximum, requeued messages back at their place in their
 * priority, consumers served in priority order, and plain queues ignoring the
 * priority property.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { Broker } from '../../src/index.js';
import { startBroker } from '../helpers/broker.js';
import { Clients, body, consume, drain, drainBodies, sync } from '../helpers/model.js';

let broker: Broker;
const clients = new Clients(() => broker);
beforeAll(async () => { broker = await startBroker(); });
afterEach(() => clients.closeAll());
afterAll(() => broker.stop());

/** [body, priority] pairs published in order (priority undefined = property absent). */
type Pub = [string, number | undefined];

describe('x-max-priority', () => {
  it('delivers higher priorities first and keeps FIFO order within a priority', async () => {
    const ch = await clients.channel();
    await ch.assertQueue('prio', { exclusive: true, maxPriority: 10 });
    const pubs: Pub[] = [['a1', 1], ['b5', 5], ['c1', 1], ['d9', 9], ['e5', 5], ['f9', 9], ['g2', 2]];
    for (const [b, p] of pubs) ch.sendToQueue('prio', Buffer.from(b), { priority: p });
    await sync(ch);
    expect(await drainBodies(ch, 'prio')).toEqual(['d9', 'f9', 'b5', 'e5', 'g2', 'a1', 'c1']);
  });

  it('no priority counts as 0; a priority above the maximum counts as the maximum', async () => {
    const ch = await clients.channel();
    await ch.assertQueue('prio-bounds', { exclusive: true, maxPriority: 5 });
    const pubs: Pub[] = [['none1', undefined], ['zero', 0], ['p200', 200], ['p5', 5], ['p6', 6], ['none2', undefined], ['p4', 4]];
    for (const [b, p] of pubs) ch.sendToQueue('prio-bounds', Buffer.from(b), p === undefined ? {} : { priority: p });
    await sync(ch);
    const got = await drain(ch, 'prio-bounds');
    expect(got.map(body)).toEqual(['p200', 'p5', 'p6', 'p4', 'none1', 'zero', 'none2']);
    // The property itself is delivered unchanged.
    expect(got.map((m) => m.properties.priority)).toEqual([200, 5, 6, 4, undefined, 0, undefined]);
  });

  it('requeued messages go back to their place within their priority', async () => {
    const ch = await clients.channel();
    await ch.assertQueue('prio-requeue', { exclusive: true, maxPriority: 3 });
    const pubs: Pub[] = [['h1', 3], ['h2', 3], ['h3', 3], ['l1', 1], ['l2', 1]];
    for (const [b, p] of pubs) ch.sendToQueue('prio-requeue', Buffer.from(b), { priority: p });
    await sync(ch);
    const h1 = await ch.get('prio-requeue');
    const h2 = await ch.get('prio-requeue');
    const h3 = await ch.get('prio-requeue');
    const l1 = await ch.get('prio-requeue');
    if (!h1 || !h2 || !h3 || !l1) throw new Error('missing');
    ch.nack(l1, false, true);
    ch.nack(h2, false, true);
    ch.ack(h3);
    ch.nack(h1, false, true);
    await sync(ch);
    const got = await drain(ch, 'prio-requeue');
    expect(got.map((m) => `${body(m)}${m.fields.redelivered ? '*' : ''}`)).toEqual(['h1*', 'h2*', 'l1*', 'l2']);
  });

  it('a consumer receives the backlog in priority order, and later publishes by priority as it frees up', async () => {
    const ch = await clients.channel();
    await ch.assertQueue('prio-consume', { exclusive: true, maxPriority: 9 });
    const pubs: Pub[] = [['low', 0], ['mid', 4], ['high', 9], ['mid2', 4]];
    for (const [b, p] of pubs) ch.sendToQueue('prio-consume', Buffer.from(b), { priority: p });
    await sync(ch);
    await ch.prefetch(1);
    const inbox = await consume(ch, 'prio-consume', {}, (m) => {
      // While it holds its first message, a higher priority one arrives: it comes next.
      if (body(m) === 'high') ch.sendToQueue('prio-consume', Buffer.from('urgent'), { priority: 8 });
      ch.ack(m); // after the publish on the same channel: the broker sees them in this order
    });
    await inbox.waitFor(5);
    expect(inbox.bodies).toEqual(['high', 'urgent', 'mid', 'mid2', 'low']);
  });

  it('a queue without x-max-priority ignores the priority property (plain FIFO)', async () => {
    const ch = await clients.channel();
    await ch.assertQueue('prio-none', { exclusive: true });
    const pubs: Pub[] = [['a', 1], ['b', 9], ['c', 5]];
    for (const [b, p] of pubs) ch.sendToQueue('prio-none', Buffer.from(b), { priority: p });
    await sync(ch);
    expect(await drainBodies(ch, 'prio-none')).toEqual(['a', 'b', 'c']);
  });

  it('the declare-ok message count covers every priority level', async () => {
    const ch = await clients.channel();
    await ch.assertQueue('prio-count', { exclusive: true, maxPriority: 2 });
    for (const p of [0, 1, 2, 2, undefined]) ch.sendToQueue('prio-count', Buffer.from('x'), p === undefined ? {} : { priority: p });
    await sync(ch);
    expect(await ch.checkQueue('prio-count')).toEqual({ queue: 'prio-count', messageCount: 5, consumerCount: 0 });
    expect((await ch.purgeQueue('prio-count')).messageCount).toBe(5);
    expect(await ch.get('prio-count')).toBe(false);
  });
});
