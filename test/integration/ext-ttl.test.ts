/**
 * Message TTL (RabbitMQ extension) through amqplib: x-message-ttl per queue,
 * the `expiration` property per message (the smaller applies), TTL 0, expiry
 * checked at the head (one timer per queue) and on delivery, basic.get and
 * queue.declare-ok never seeing expired messages, requeued messages keeping
 * their expiry, and the 406s for an invalid expiration at publish.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import type { Broker } from '../../src/index.js';
import { eventually, sleep, startBroker } from '../helpers/broker.js';
import { Clients, body, consume, drainBodies, expectChannelError, sync } from '../helpers/model.js';
import { expectXDeath } from '../helpers/x-death.js';

let broker: Broker;
const clients = new Clients(() => broker);
beforeAll(async () => { broker = await startBroker(); });
afterEach(() => clients.closeAll());
afterAll(() => broker.stop());

/** Ready messages as the model holds them (does not drop expired ones the way declare-ok does). */
const readyCount = (q: string): number => broker.queues('/').find((info) => info.name === q)?.messagesReady ?? -1;

describe('x-message-ttl', () => {
  it('messages expire after the queue TTL, by the queue timer alone, never earlier', async () => {
    const ch = await clients.channel();
    // Long enough that the first count (two round trips after the publish) cannot miss them,
    // however stalled this process is on a loaded machine.
    const ttl = 2000;
    await ch.assertQueue('ttl-q', { exclusive: true, messageTtl: ttl });
    const t0 = Date.now();
    for (let i = 0; i < 3; i++) ch.sendToQueue('ttl-q', Buffer.from(`${i}`));
    await sync(ch);
    expect((await ch.checkQueue('ttl-q')).messageCount).toBe(3);
    // Nobody declares, consumes or gets: the queue's own TTL timer drops them.
    await eventually(() => readyCount('ttl-q') === 0, 10_000, 'expiry by the queue timer');
    expect(Date.now() - t0).toBeGreaterThanOrEqual(ttl - 5);
    expect(await drainBodies(ch, 'ttl-q')).toEqual([]);
  });

  it('a consumer arriving after the TTL receives nothing; one already there receives everything', async () => {
    const ch = await clients.channel();
    await ch.assertQueue('ttl-late', { exclusive: true, messageTtl: 50 });
    const early = await consume(ch, 'ttl-late', { noAck: true });
    ch.sendToQueue('ttl-late', Buffer.from('live'));
    await early.waitFor(1);
    await ch.cancel(early.tag);
    ch.sendToQueue('ttl-late', Buffer.from('dies'));
    await sync(ch);
    await eventually(() => readyCount('ttl-late') === 0, 10_000, 'expiry');
    const late = await consume(ch, 'ttl-late', { noAck: true });
    await sync(ch); // a delivery to the new consumer would have come before this reply
    expect(early.bodies).toEqual(['live']);
    expect(late.bodies).toEqual([]);
  });

  it('one timer per queue: publishing many TTL messages does not arm a timer each', async () => {
    const ch = await clients.channel();
    await ch.assertQueue('ttl-timers', { exclusive: true, messageTtl: 300 });
    ch.sendToQueue('ttl-timers', Buffer.from('warm-up'));
    await sync(ch);
    const spy = vi.spyOn(globalThis, 'setTimeout');
    try {
      for (let i = 0; i < 500; i++) ch.sendToQueue('ttl-timers', Buffer.from(`${i}`), { expiration: String(200 + (i % 7)) });
      await sync(ch);
      // (Other parts of the process arm a few timers too: far fewer than one per message.)
      expect(spy.mock.calls.length).toBeLessThan(25);
    } finally {
      spy.mockRestore();
    }
    await eventually(() => readyCount('ttl-timers') === 0, 10_000, 'all 501 expired');
  });

  it('queue.declare-ok does not count expired messages at the head', async () => {
    const ch = await clients.channel();
    await ch.assertQueue('ttl-count', { exclusive: true });
    ch.sendToQueue('ttl-count', Buffer.from('short'), { expiration: '1500' }); // still there at the first count, however loaded the machine
    ch.sendToQueue('ttl-count', Buffer.from('forever'));
    await sync(ch);
    expect((await ch.checkQueue('ttl-count')).messageCount).toBe(2);
    await eventually(async () => (await ch.checkQueue('ttl-count')).messageCount === 1, 10_000, 'declare-ok count 1');
    expect(await drainBodies(ch, 'ttl-count')).toEqual(['forever']);
  });

  it('x-message-ttl 0: only a consumer able to take it right now gets the message; otherwise it dies as expired', async () => {
    const ch = await clients.channel();
    await ch.assertQueue('ttl0-dlq', { exclusive: true });
    await ch.assertQueue('ttl0', { exclusive: true, messageTtl: 0, deadLetterExchange: '', deadLetterRoutingKey: 'ttl0-dlq' });
    const from = Date.now();
    ch.sendToQueue('ttl0', Buffer.from('nobody-waiting'));
    await sync(ch);
    expect((await ch.checkQueue('ttl0')).messageCount).toBe(0);

    await ch.prefetch(1);
    const inbox = await consume(ch, 'ttl0');
    ch.sendToQueue('ttl0', Buffer.from('taken'));
    await inbox.waitFor(1);
    ch.sendToQueue('ttl0', Buffer.from('consumer-full')); // the consumer is at its prefetch limit
    await sync(ch);
    ch.ack(inbox.messages[0]!);
    ch.sendToQueue('ttl0', Buffer.from('taken-too'));
    await inbox.waitFor(2);
    await sync(ch);
    expect(inbox.bodies).toEqual(['taken', 'taken-too']);
    ch.ack(inbox.messages[1]!);

    const dlq = await ch.get('ttl0-dlq', { noAck: true });
    const dlq2 = await ch.get('ttl0-dlq', { noAck: true });
    expect(dlq && body(dlq)).toBe('nobody-waiting');
    expect(dlq2 && body(dlq2)).toBe('consumer-full');
    for (const m of [dlq, dlq2]) {
      if (!m) throw new Error('missing dead-lettered message');
      expectXDeath(m.properties.headers, [{ count: 1, reason: 'expired', queue: 'ttl0', exchange: '', 'routing-keys': ['ttl0'] }], { from, to: Date.now() });
    }
    expect(await ch.get('ttl0-dlq')).toBe(false);
  });
});

describe('per-message expiration', () => {
  it('expires the message alone; an expired message behind a live head is dropped when it reaches the head', async () => {
    const ch = await clients.channel();
    await ch.assertQueue('exp-mid', { exclusive: true });
    ch.sendToQueue('exp-mid', Buffer.from('A'));
    ch.sendToQueue('exp-mid', Buffer.from('B'), { expiration: '30' });
    ch.sendToQueue('exp-mid', Buffer.from('C'));
    await sync(ch);
    await sleep(50); // B's 30 ms run out
    // B is past its expiration: basic.get never returns it.
    expect(await drainBodies(ch, 'exp-mid')).toEqual(['A', 'C']);
  });

  it('is checked again on delivery: a consumer never receives an expired message', async () => {
    const ch = await clients.channel();
    await ch.assertQueue('exp-deliver', { exclusive: true });
    ch.sendToQueue('exp-deliver', Buffer.from('A'));
    ch.sendToQueue('exp-deliver', Buffer.from('B'), { expiration: '20' });
    ch.sendToQueue('exp-deliver', Buffer.from('C'), { expiration: '60000' });
    await sync(ch);
    await sleep(40); // B's 20 ms run out
    const inbox = await consume(ch, 'exp-deliver', { noAck: true });
    await inbox.waitFor(2);
    await sync(ch);
    expect(inbox.bodies).toEqual(['A', 'C']);
    expect(inbox.messages[1]!.properties.expiration).toBe('60000');
  });

  it.each([
    ['queue TTL smaller', 80, '60000'],
    ['message expiration smaller', 60000, '80'],
  ])('the smaller of x-message-ttl and expiration applies (%s)', async (_what, queueTtl, expiration) => {
    const ch = await clients.channel();
    const q = `exp-min-${queueTtl}`;
    await ch.assertQueue(q, { exclusive: true, messageTtl: queueTtl });
    const t0 = Date.now();
    ch.sendToQueue(q, Buffer.from('m'), { expiration });
    await sync(ch);
    await eventually(() => readyCount(q) === 0, 10_000, 'expiry');
    const took = Date.now() - t0;
    expect(took).toBeGreaterThanOrEqual(75);
    expect(took).toBeLessThan(80 + 5000); // when due, not much later (generous: the machine is loaded)
  });

  it('a requeued message keeps its expiry: past it, it is dead-lettered instead of redelivered', async () => {
    const ch = await clients.channel();
    await ch.assertQueue('exp-requeue-dlq', { exclusive: true });
    await ch.assertQueue('exp-requeue', { exclusive: true, messageTtl: 60, deadLetterExchange: '', deadLetterRoutingKey: 'exp-requeue-dlq' });
    const from = Date.now();
    // Consuming first: delivered at once, before its 60 ms can run out however loaded the machine.
    const inbox = await consume(ch, 'exp-requeue');
    ch.sendToQueue('exp-requeue', Buffer.from('late'));
    await inbox.waitFor(1);
    await sleep(80); // its TTL runs out while it is unacked
    ch.nack(inbox.messages[0]!, false, true);
    await eventually(async () => (await ch.checkQueue('exp-requeue-dlq')).messageCount === 1, 10_000, 'dead-lettered');
    expect(inbox.messages.length).toBe(1);
    const m = await ch.get('exp-requeue-dlq', { noAck: true });
    if (!m) throw new Error('nothing dead-lettered');
    expectXDeath(m.properties.headers, [{ count: 1, reason: 'expired', queue: 'exp-requeue', exchange: '', 'routing-keys': ['exp-requeue'] }], { from, to: Date.now() });
  });

  it('a message still before its expiration is requeued and redelivered as usual', async () => {
    const ch = await clients.channel();
    await ch.assertQueue('exp-requeue-live', { exclusive: true, messageTtl: 60_000 });
    ch.sendToQueue('exp-requeue-live', Buffer.from('m'));
    const inbox = await consume(ch, 'exp-requeue-live');
    await inbox.waitFor(1);
    ch.nack(inbox.messages[0]!, false, true);
    await inbox.waitFor(2);
    expect(inbox.messages[1]!.fields.redelivered).toBe(true);
    ch.ack(inbox.messages[1]!);
  });

  it.each([
    ['abc', "PRECONDITION_FAILED - invalid expiration 'abc': no_integer"],
    ['', "PRECONDITION_FAILED - invalid expiration '': no_integer"],
    ['-5', "PRECONDITION_FAILED - invalid expiration '-5': {value_negative,-5}"],
    ['10abc', `PRECONDITION_FAILED - invalid expiration '10abc': {leftover_string,"abc"}`],
    ['4294967296', "PRECONDITION_FAILED - invalid expiration '4294967296': {value_too_big,4294967296}"],
  ])('expiration %j is a 406 channel error at publish', async (expiration, text) => {
    const ch = await clients.channel();
    await ch.assertQueue('exp-bad', { exclusive: true });
    const err = await expectChannelError(ch, () => ch.sendToQueue('exp-bad', Buffer.from('x'), { expiration }), 406, text);
    expect(err.message).toContain(text);
  });

  it('expiration "+5" and "0" are valid numbers (Erlang string:to_integer)', async () => {
    const ch = await clients.channel();
    await ch.assertQueue('exp-ok', { exclusive: true });
    ch.sendToQueue('exp-ok', Buffer.from('plus'), { expiration: '+60000' });
    ch.sendToQueue('exp-ok', Buffer.from('zero'), { expiration: '0' });
    await sync(ch);
    expect(await drainBodies(ch, 'exp-ok')).toEqual(['plus']);
  });
});
