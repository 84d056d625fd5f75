/**
 * The retry-with-backoff pattern built from RabbitMQ's extensions, end to
 * end through amqplib: a work queue dead-letters rejected messages to a retry
 * exchange; its retry queue holds them for x-message-ttl, then dead-letters
 * them back to the work exchange. The worker reads the attempt number from
 * x-death, succeeds on the third attempt (or parks the message after too many).
 */
import type { Channel, ConsumeMessage } from 'amqplib';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { Broker } from '../../src/index.js';
import { eventually, startBroker } from '../helpers/broker.js';
import { Clients, body, consume, drain, sync } from '../helpers/model.js';
import { expectXDeath, firstDeath } from '../helpers/x-death.js';

let broker: Broker;
const clients = new Clients(() => broker);
beforeAll(async () => { broker = await startBroker(); });
afterEach(() => clients.closeAll());
afterAll(() => broker.stop());

const BACKOFF = 60;

/** work (direct) → `${p}.work` --reject--> retry (direct) → `${p}.retry` (TTL) --expire--> work. */
async function topology(ch: Channel, p: string): Promise<void> {
  await ch.assertExchange(`${p}.work-x`, 'direct', { autoDelete: true });
  await ch.assertExchange(`${p}.retry-x`, 'direct', { autoDelete: true });
  await ch.assertQueue(`${p}.work`, { exclusive: true, deadLetterExchange: `${p}.retry-x` });
  await ch.assertQueue(`${p}.retry`, { exclusive: true, messageTtl: BACKOFF, deadLetterExchange: `${p}.work-x` });
  await ch.bindQueue(`${p}.work`, `${p}.work-x`, 'task');
  await ch.bindQueue(`${p}.retry`, `${p}.retry-x`, 'task');
}

/** The attempt number a worker derives from x-death: 1 + times rejected by the work queue. */
function attempt(m: ConsumeMessage, workQueue: string): number {
  const deaths = (m.properties.headers?.['x-death'] ?? []) as { queue: string; reason: string; count: number }[];
  return 1 + (deaths.find((d) => d.queue === workQueue && d.reason === 'rejected')?.count ?? 0);
}

describe('retry with backoff through a TTL\'d retry queue', () => {
  it('the worker fails twice, succeeds on the 3rd attempt; x-death counts the rejections and the expiries', async () => {
    const ch = await clients.channel();
    await topology(ch, 'rp');
    const from = Date.now();
    const at: number[] = [];
    const attempts: number[] = [];
    const inbox = await consume(ch, 'rp.work', {}, (m) => {
      at.push(Date.now());
      const n = attempt(m, 'rp.work');
      attempts.push(n);
      if (n < 3) ch.reject(m, false);
      else ch.ack(m);
    });
    ch.publish('rp.work-x', 'task', Buffer.from('job-1'), { messageId: 'job-1', persistent: true, headers: { tenant: 't1' } });
    const [first, second, third] = await inbox.waitFor(3);
    await sync(ch);
    const to = Date.now();
    expect(attempts).toEqual([1, 2, 3]);
    expect([first, second, third].map((m) => body(m!))).toEqual(['job-1', 'job-1', 'job-1']);

    // The first delivery is the original publish.
    expect(first!.fields).toMatchObject({ exchange: 'rp.work-x', routingKey: 'task', redelivered: false });
    expect(first!.properties.headers).toEqual({ tenant: 't1' });

    // Each retry comes back through the work exchange (the retry queue's DLX), with the original key.
    for (const m of [second!, third!]) {
      expect(m.fields).toMatchObject({ exchange: 'rp.work-x', routingKey: 'task', redelivered: false });
      expect(m.properties).toMatchObject({ messageId: 'job-1', deliveryMode: 2 });
      expect(m.properties.headers!['tenant']).toBe('t1');
      expect(firstDeath(m.properties.headers)).toEqual({ reason: 'rejected', queue: 'rp.work', exchange: 'rp.work-x' });
    }
    // The work queue's entry records the exchange of the first death (the work exchange); the retry
    // queue's entry the exchange the message was dead-lettered through (the retry exchange).
    expectXDeath(second!.properties.headers, [
      { count: 1, reason: 'expired', queue: 'rp.retry', exchange: 'rp.retry-x', 'routing-keys': ['task'] },
      { count: 1, reason: 'rejected', queue: 'rp.work', exchange: 'rp.work-x', 'routing-keys': ['task'] },
    ], { from, to });
    expectXDeath(third!.properties.headers, [
      { count: 2, reason: 'expired', queue: 'rp.retry', exchange: 'rp.retry-x', 'routing-keys': ['task'] },
      { count: 2, reason: 'rejected', queue: 'rp.work', exchange: 'rp.work-x', 'routing-keys': ['task'] },
    ], { from, to });

    // The backoff: each retry waited out the retry queue's TTL.
    expect(at[1]! - at[0]!).toBeGreaterThanOrEqual(BACKOFF - 5);
    expect(at[2]! - at[1]!).toBeGreaterThanOrEqual(BACKOFF - 5);
    // Done: nothing left anywhere.
    expect(await ch.checkQueue('rp.work')).toMatchObject({ messageCount: 0 });
    expect(await ch.checkQueue('rp.retry')).toMatchObject({ messageCount: 0 });
  });

  it('after too many attempts the worker parks the message (with its history) instead of rejecting it', async () => {
    const ch = await clients.channel();
    await topology(ch, 'rpk');
    await ch.assertQueue('rpk.parked', { exclusive: true });
    const inbox = await consume(ch, 'rpk.work', {}, (m) => {
      if (attempt(m, 'rpk.work') < 4) {
        ch.reject(m, false);
        return;
      }
      ch.sendToQueue('rpk.parked', m.content, { headers: m.properties.headers, messageId: m.properties.messageId });
      ch.ack(m);
    });
    for (const id of ['a', 'b']) ch.publish('rpk.work-x', 'task', Buffer.from(id), { messageId: id });
    await inbox.waitFor(8);
    await eventually(async () => (await ch.checkQueue('rpk.parked')).messageCount === 2, 10_000, 'both parked');
    const parked = await drain(ch, 'rpk.parked');
    expect(parked.map((m) => body(m)).sort()).toEqual(['a', 'b']);
    for (const m of parked) {
      const deaths = (m.properties.headers!['x-death'] as { queue: string; reason: string; count: number }[]).map((d) => [d.queue, d.reason, d.count]);
      expect(deaths).toEqual([['rpk.retry', 'expired', 3], ['rpk.work', 'rejected', 3]]);
    }
    expect(inbox.messages.length).toBe(8);
  });
});
