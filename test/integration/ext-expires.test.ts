/**
 * Queue expiry (x-expires, RabbitMQ extension) through amqplib: an unused
 * queue (no consumers, no basic.get, no redeclare) is deleted after the
 * period; a passive or active redeclare and basic.get renew it; publishing
 * does not; a queue with a consumer is kept, and the countdown starts when the
 * last consumer leaves. Whether the queue still exists is read from the model
 * (a passive declare would itself renew the queue).
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { Broker } from '../../src/index.js';
import { eventually, sleep, startBroker } from '../helpers/broker.js';
import { Clients, consume, expectChannelError, sync } from '../helpers/model.js';

let broker: Broker;
const clients = new Clients(() => broker);
beforeAll(async () => { broker = await startBroker(); });
afterEach(() => clients.closeAll());
afterAll(() => broker.stop());

const exists = (q: string): boolean => broker.vhosts.get('/')!.queues.has(q);

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
      expect(took).toBeLessThan(1500);
    } finally {
      clearInterval(pub);
    }
    await expectChannelError(ch, () => ch.checkQueue('exp-unused'), 404, "NOT_FOUND - no queue 'exp-unused' in vhost '/'");
  });

  it('a passive redeclare renews the period', async () => {
    const ch = await clients.channel();
    const t0 = Date.now();
    await ch.assertQueue('exp-passive', { durable: false, expires: 300 });
    await sleep(150);
    await ch.checkQueue('exp-passive');
    const renewed = Date.now();
    await sleep(200); // 350 ms after the declare: would be gone without the renewal
    expect(exists('exp-passive')).toBe(true);
    const took = await goneAfter('exp-passive', renewed);
    expect(took).toBeGreaterThanOrEqual(290);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(440);
  });

  it('an active redeclare renews the period', async () => {
    const ch = await clients.channel();
    await ch.assertQueue('exp-active', { durable: false, expires: 300 });
    await sleep(150);
    await ch.assertQueue('exp-active', { durable: false, expires: 300 });
    const renewed = Date.now();
    await sleep(200);
    expect(exists('exp-active')).toBe(true);
    expect(await goneAfter('exp-active', renewed)).toBeGreaterThanOrEqual(290);
  });

  it('basic.get renews the period (even on an empty queue)', async () => {
    const ch = await clients.channel();
    await ch.assertQueue('exp-get', { durable: false, expires: 300 });
    await sleep(150);
    expect(await ch.get('exp-get')).toBe(false);
    const renewed = Date.now();
    await sleep(200);
    expect(exists('exp-get')).toBe(true);
    expect(await goneAfter('exp-get', renewed)).toBeGreaterThanOrEqual(290);
  });

  it('a queue with a consumer is kept; the countdown starts when the consumer is cancelled', async () => {
    const ch = await clients.channel();
    await ch.assertQueue('exp-consumed', { durable: false, expires: 100 });
    const inbox = await consume(ch, 'exp-consumed', { noAck: true });
    await sleep(250);
    expect(exists('exp-consumed')).toBe(true);
    ch.sendToQueue('exp-consumed', Buffer.from('still-served'));
    await inbox.waitFor(1);
    await ch.cancel(inbox.tag);
    const cancelled = Date.now();
    expect(await goneAfter('exp-consumed', cancelled)).toBeGreaterThanOrEqual(95);
  });

  it('…or when the consumer\'s channel closes', async () => {
    const conn = await clients.connect();
    const ch = await clients.channel(conn);
    await ch.assertQueue('exp-chclose', { durable: false, expires: 100 });
    const consumerCh = await clients.channel(conn);
    await consume(consumerCh, 'exp-chclose', { noAck: true });
    await sleep(200);
    expect(exists('exp-chclose')).toBe(true);
    await consumerCh.close();
    const closed = Date.now();
    expect(await goneAfter('exp-chclose', closed)).toBeGreaterThanOrEqual(95);
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
