/**
 * Queue expiry (x-expires, RabbitMQ extension) through amqplib: an unused
 * queue (no consumers, no basic.get, no redeclare) is deleted after the
 * period; a passive or active redeclare and basic.get renew it; publishing
 * does not; a queue with a consumer is kept, and the countdown starts when the
 * last consumer leaves. Whether the queue still exists is read from the model
 * (a passive declare would itself renew the queue).
 */
import type { Channel } from 'amqplib';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { Broker } from '../../src/index.js';
import { eventually, sleep, startBroker } from '../helpers/broker.js';
import { Clients, consume, expectChannelError, sync } from '../helpers/model.js';

let broker: Broker;
const clients = new Clients(() => broker);
beforeAll(async () => { broker = await startBroker(); });
afterEach(() => clients.closeAll());
afterAll(() => broker.stop());

const exists = (q: string): boolean => broker.queues('/').some((info) => info.name === q);

/**
 * A positive barrier for "this queue would have expired by now": resolves
 * when `sentinel` (declared later with the same x-expires, never used) is
 * deleted, with whether `q` still existed at that very moment. The broker's
 * expiry timers run in deadline order in this process, so `q`'s unrenewed
 * deadline, being earlier, has been checked by then — however late the timers ran.
 */
function existedWhenDeleted(sentinel: string, q: string): Promise<boolean> {
  const queues = broker.vhosts.get('/')!.queues;
  const del = queues.delete.bind(queues);
  return new Promise((resolve) => {
    queues.delete = (name: string): boolean => {
      if (name === sentinel) {
        queues.delete = del;
        resolve(queues.has(q));
      }
      return del(name);
    };
  });
}

/** Waits until the queue is gone; returns how long that took from `t0`. */
async function goneAfter(q: string, t0: number): Promise<number> {
  await eventually(() => !exists(q), 10_000, `${q} deleted`);
  return Date.now() - t0;
}

describe('x-expires', () => {
  it('an unused queue is deleted after the period, with its messages and bindings; publishing does not keep it', async () => {
    const ch = await clients.channel();
    const t0 = Date.now();
    await ch.assertQueue('exp-unused', { durable: false, expires: 120 });
    await ch.bindQueue('exp-unused', 'amq.direct', 'exp-unused-key');
    const pub = setInterval(() => ch.publish('amq.direct', 'exp-unused-key', Buffer.from('m')), 20);
    try {
      const took = await goneAfter('exp-unused', t0);
      expect(took).toBeGreaterThanOrEqual(115);
      expect(took).toBeLessThan(120 + 5000); // when due, not much later (generous: the machine is loaded)
    } finally {
      clearInterval(pub);
    }
    await expectChannelError(ch, () => ch.checkQueue('exp-unused'), 404, "NOT_FOUND - no queue 'exp-unused' in vhost '/'");
  });

  // A sentinel queue declared with the queue shows when the old deadline has
  // passed; the renewal is made half a period later, so the old and the new
  // deadline are both half a period away from it (margins for a loaded machine:
  // the renewal must reach the broker within that second, however stalled this process).
  const PERIOD = 2000;
  for (const [what, q, renew] of [
    ['a passive redeclare', 'exp-passive', (ch: Channel, q: string) => ch.checkQueue(q)],
    ['an active redeclare', 'exp-active', (ch: Channel, q: string) => ch.assertQueue(q, { durable: false, expires: PERIOD })],
    ['basic.get (even on an empty queue)', 'exp-get', async (ch: Channel, q: string) => expect(await ch.get(q)).toBe(false)],
  ] as const) {
    it(`${what} renews the period`, async () => {
      const ch = await clients.channel();
      await ch.assertQueue(q, { durable: false, expires: PERIOD });
      await ch.assertQueue(`${q}-sentinel`, { durable: false, expires: PERIOD });
      const oldDeadlinePassed = existedWhenDeleted(`${q}-sentinel`, q);
      await sleep(PERIOD / 2);
      const renewed = Date.now(); // the broker renews after this
      await renew(ch, q);
      expect(await oldDeadlinePassed).toBe(true);
      expect(await goneAfter(q, renewed)).toBeGreaterThanOrEqual(PERIOD);
    });
  }

  it('a queue with a consumer is kept; the countdown starts when the consumer is cancelled', async () => {
    const ch = await clients.channel();
    await ch.assertQueue('exp-consumed', { durable: false, expires: 100 });
    const inbox = await consume(ch, 'exp-consumed', { noAck: true });
    await ch.assertQueue('exp-consumed-sentinel', { durable: false, expires: 100 });
    expect(await existedWhenDeleted('exp-consumed-sentinel', 'exp-consumed')).toBe(true);
    ch.sendToQueue('exp-consumed', Buffer.from('still-served'));
    await inbox.waitFor(1);
    const cancelled = Date.now(); // the countdown starts after this
    await ch.cancel(inbox.tag);
    expect(await goneAfter('exp-consumed', cancelled)).toBeGreaterThanOrEqual(100);
  });

  it('…or when the consumer\'s channel closes', async () => {
    const conn = await clients.connect();
    const ch = await clients.channel(conn);
    await ch.assertQueue('exp-chclose', { durable: false, expires: 100 });
    const consumerCh = await clients.channel(conn);
    await consume(consumerCh, 'exp-chclose', { noAck: true });
    await ch.assertQueue('exp-chclose-sentinel', { durable: false, expires: 100 });
    expect(await existedWhenDeleted('exp-chclose-sentinel', 'exp-chclose')).toBe(true);
    const closed = Date.now(); // the countdown starts after this
    await consumerCh.close();
    expect(await goneAfter('exp-chclose', closed)).toBeGreaterThanOrEqual(100);
    await sync(ch);
  });

  it('redeclaring with a different x-expires is a 406 inequivalent arg', async () => {
    const ch = await clients.channel();
    await ch.assertQueue('exp-eq', { durable: false, expires: 60_000 });
    await expectChannelError(ch, () => ch.assertQueue('exp-eq', { durable: false, expires: 30_000 }), 406,
      "PRECONDITION_FAILED - inequivalent arg 'x-expires' for queue 'exp-eq' in vhost '/': received the value '30000' of type 'short' but current is the value '60000' of type 'signedint'");
    const ch2 = await clients.channel();
    await ch2.deleteQueue('exp-eq');
  });
});
