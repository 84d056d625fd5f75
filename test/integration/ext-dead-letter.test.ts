/**
 * Dead-lettering (RabbitMQ extension) through amqplib: x-dead-letter-exchange
 * and x-dead-letter-routing-key, triggered by reject/nack without requeue and
 * by expiry; the full x-death history (newest first, counts, times, original
 * exchange and routing keys incl. CC, original-expiration), x-first-death-*,
 * the routing of the dead-lettered message, cycle detection, and what does
 * not dead-letter (ack, requeue, purge, delete, a missing DLX).
 * Length-limit deaths are in ext-max-length, delivery limits in ext-queue-types.
 */
import type { Channel } from 'amqplib';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { Broker } from '../../src/index.js';
import { eventually, startBroker } from '../helpers/broker.js';
import { Clients, body, consume, drain, drainBodies, sync } from '../helpers/model.js';
import { expectXDeath, firstDeath, hasField, rawGet } from '../helpers/x-death.js';

let broker: Broker;
const clients = new Clients(() => broker);
beforeAll(async () => { broker = await startBroker(); });
afterEach(() => clients.closeAll());
afterAll(() => broker.stop());

const readyCount = (q: string): number => broker.queues('/').find((info) => info.name === q)?.messagesReady ?? -1;

/**
 * A positive barrier for "a message expiring within `ms` would have done so
 * by now": a message with that expiration, published now to a queue of its
 * own, has been dropped by its queue's timer. Expiry timers run in deadline
 * order in this process, so any earlier deadline has been handled.
 */
async function expiryBarrier(ch: Channel, ms: number): Promise<void> {
  const { queue } = await ch.assertQueue('', { exclusive: true });
  ch.sendToQueue(queue, Buffer.from('sentinel'), { expiration: String(ms) });
  await sync(ch);
  await eventually(() => readyCount(queue) === 0, 10_000, 'the sentinel message to expire');
  await ch.deleteQueue(queue);
}

/**
 * A work queue `name` fed by direct exchange `${name}.in` (key "job"),
 * dead-lettering to direct exchange `${name}.dlx`, whose queue `${name}.dlq`
 * is bound with `dlqKey`.
 */
async function setup(ch: Channel, name: string, args: Record<string, unknown> = {}, dlqKey = 'job'): Promise<void> {
  await ch.assertExchange(`${name}.in`, 'direct', { autoDelete: true });
  await ch.assertExchange(`${name}.dlx`, 'direct', { autoDelete: true });
  await ch.assertQueue(name, { exclusive: true, arguments: { 'x-dead-letter-exchange': `${name}.dlx`, ...args } });
  await ch.assertQueue(`${name}.dlq`, { exclusive: true });
  await ch.bindQueue(name, `${name}.in`, 'job');
  await ch.bindQueue(`${name}.dlq`, `${name}.dlx`, dlqKey);
}

describe('dead-lettering on rejection', () => {
  it('basic.reject requeue=false: the DLQ consumer sees the DLX, the original key, the full x-death and x-first-death-*', async () => {
    const ch = await clients.channel();
    await setup(ch, 'dl-rej');
    const from = Date.now();
    ch.publish('dl-rej.in', 'job', Buffer.from('payload'), { messageId: 'm-1', contentType: 'text/plain', persistent: true, headers: { app: 'x' } });
    const m = await ch.get('dl-rej');
    if (!m) throw new Error('no message');
    ch.reject(m, false);
    const dlq = await consume(ch, 'dl-rej.dlq', { noAck: true });
    const [d] = await dlq.waitFor(1);
    expect(d!.fields).toMatchObject({ exchange: 'dl-rej.dlx', routingKey: 'job', redelivered: false });
    expect(body(d!)).toBe('payload');
    expect(d!.properties).toMatchObject({ messageId: 'm-1', contentType: 'text/plain', deliveryMode: 2 });
    const h = d!.properties.headers!;
    expect(Object.keys(h).sort()).toEqual(['app', 'x-death', 'x-first-death-exchange', 'x-first-death-queue', 'x-first-death-reason']);
    expect(h['app']).toBe('x');
    expectXDeath(h, [{ count: 1, reason: 'rejected', queue: 'dl-rej', exchange: 'dl-rej.in', 'routing-keys': ['job'] }], { from, to: Date.now() });
    expect(firstDeath(h)).toEqual({ reason: 'rejected', queue: 'dl-rej', exchange: 'dl-rej.in' });
    expect(await ch.checkQueue('dl-rej')).toMatchObject({ messageCount: 0 });
  });

  it('writes x-death with RabbitMQ field types: an array of tables, count long, time timestamp, routing-keys array', async () => {
    const ch = await clients.channel();
    await ch.assertQueue('dl-types.dlq', { durable: false });
    await ch.assertQueue('dl-types', { durable: false, deadLetterExchange: '', deadLetterRoutingKey: 'dl-types.dlq' });
    await ch.purgeQueue('dl-types.dlq');
    ch.sendToQueue('dl-types', Buffer.from('t'));
    const m = await ch.get('dl-types');
    if (!m) throw new Error('no message');
    ch.nack(m, false, false);
    await eventually(() => readyCount('dl-types.dlq') === 1, 10_000, 'dead-lettered');
    const raw = await rawGet(broker.port, 'dl-types.dlq');
    if (!raw) throw new Error('nothing in the DLQ');
    expect(hasField(raw.header, 'x-death', 'A')).toBe(true);
    expect(hasField(raw.header, 'count', 'l')).toBe(true);
    expect(hasField(raw.header, 'time', 'T')).toBe(true);
    expect(hasField(raw.header, 'routing-keys', 'A')).toBe(true);
    expect(hasField(raw.header, 'reason', 'S')).toBe(true);
    expect(hasField(raw.header, 'x-first-death-reason', 'S')).toBe(true);
    await ch.deleteQueue('dl-types');
    await ch.deleteQueue('dl-types.dlq');
  });

  it('basic.nack multiple requeue=false dead-letters every covered message, in order; acked and requeued ones are not', async () => {
    const ch = await clients.channel();
    await setup(ch, 'dl-nack');
    for (const b of ['a', 'b', 'c', 'd', 'e']) ch.publish('dl-nack.in', 'job', Buffer.from(b));
    await ch.prefetch(5);
    const inbox = await consume(ch, 'dl-nack');
    const [, b, c, d, e] = await inbox.waitFor(5);
    ch.ack(b!);
    ch.nack(c!, true, false); // a and c (b is acked)
    ch.nack(d!, false, true); // requeued, redelivered
    ch.reject(e!, false);
    await inbox.waitFor(6);
    ch.ack(inbox.messages[5]!);
    await sync(ch);
    expect(inbox.messages[5]!.fields.redelivered).toBe(true);
    expect(body(inbox.messages[5]!)).toBe('d');
    await eventually(() => readyCount('dl-nack.dlq') === 3, 10_000, '3 dead-lettered');
    const dead = await drain(ch, 'dl-nack.dlq');
    expect(dead.map(body)).toEqual(['a', 'c', 'e']);
    for (const m of dead) expect((m.properties.headers!['x-death'] as { reason: string }[])[0]!.reason).toBe('rejected');
  });
});

describe('dead-lettering on expiry', () => {
  it('x-message-ttl: reason expired, no original-expiration entry', async () => {
    const ch = await clients.channel();
    await setup(ch, 'dl-ttl', { 'x-message-ttl': 40 });
    const from = Date.now();
    ch.publish('dl-ttl.in', 'job', Buffer.from('old'));
    await eventually(() => readyCount('dl-ttl.dlq') === 1, 10_000, 'expired into the DLQ');
    const [m] = await drain(ch, 'dl-ttl.dlq');
    expect(m!.fields).toMatchObject({ exchange: 'dl-ttl.dlx', routingKey: 'job' });
    expectXDeath(m!.properties.headers, [{ count: 1, reason: 'expired', queue: 'dl-ttl', exchange: 'dl-ttl.in', 'routing-keys': ['job'] }], { from, to: Date.now() });
    expect(firstDeath(m!.properties.headers)).toEqual({ reason: 'expired', queue: 'dl-ttl', exchange: 'dl-ttl.in' });
  });

  it('per-message expiration: recorded as original-expiration, and the dead-lettered message carries no expiration', async () => {
    const ch = await clients.channel();
    await setup(ch, 'dl-exp');
    const from = Date.now();
    ch.publish('dl-exp.in', 'job', Buffer.from('short-lived'), { expiration: '30' });
    await eventually(() => readyCount('dl-exp.dlq') === 1, 10_000, 'expired into the DLQ');
    await expiryBarrier(ch, 30); // it must not expire again in the DLQ
    const [m] = await drain(ch, 'dl-exp.dlq');
    expect(m).toBeDefined();
    expect(m!.properties.expiration).toBeUndefined();
    expectXDeath(m!.properties.headers, [{ count: 1, reason: 'expired', queue: 'dl-exp', exchange: 'dl-exp.in', 'routing-keys': ['job'], 'original-expiration': '30' }], { from, to: Date.now() });
  });

  it('a rejected message that had an expiration also records original-expiration', async () => {
    const ch = await clients.channel();
    await setup(ch, 'dl-exp-rej');
    const from = Date.now();
    ch.publish('dl-exp-rej.in', 'job', Buffer.from('m'), { expiration: '60000' });
    const got = await ch.get('dl-exp-rej');
    if (!got) throw new Error('no message');
    ch.reject(got, false);
    await eventually(() => readyCount('dl-exp-rej.dlq') === 1, 10_000, 'dead-lettered');
    const [m] = await drain(ch, 'dl-exp-rej.dlq');
    expect(m!.properties.expiration).toBeUndefined();
    expectXDeath(m!.properties.headers, [{ count: 1, reason: 'rejected', queue: 'dl-exp-rej', exchange: 'dl-exp-rej.in', 'routing-keys': ['job'], 'original-expiration': '60000' }], { from, to: Date.now() });
  });
});

describe('routing of dead-lettered messages', () => {
  it('x-dead-letter-routing-key replaces the routing key; x-death keeps the original keys (CC included); the CC header is removed', async () => {
    const ch = await clients.channel();
    await setup(ch, 'dl-rk', { 'x-dead-letter-routing-key': 'dead' }, 'dead');
    await ch.assertQueue('dl-rk.cc', { exclusive: true });
    await ch.bindQueue('dl-rk.cc', 'dl-rk.dlx', 'copy'); // would get it if the CC key were still used
    const from = Date.now();
    ch.publish('dl-rk.in', 'job', Buffer.from('m'), { CC: ['copy'] });
    const got = await ch.get('dl-rk');
    if (!got) throw new Error('no message');
    expect(got.properties.headers!['CC']).toEqual(['copy']);
    ch.reject(got, false);
    await eventually(() => readyCount('dl-rk.dlq') === 1, 10_000, 'dead-lettered');
    const [m] = await drain(ch, 'dl-rk.dlq');
    expect(m!.fields).toMatchObject({ exchange: 'dl-rk.dlx', routingKey: 'dead' });
    expect(m!.properties.headers!['CC']).toBeUndefined();
    expectXDeath(m!.properties.headers, [{ count: 1, reason: 'rejected', queue: 'dl-rk', exchange: 'dl-rk.in', 'routing-keys': ['job', 'copy'] }], { from, to: Date.now() });
    expect(await drainBodies(ch, 'dl-rk.cc')).toEqual([]);
  });

  it('without x-dead-letter-routing-key the message is routed with all its original keys (CC too), once per queue', async () => {
    const ch = await clients.channel();
    await setup(ch, 'dl-cc');
    await ch.assertQueue('dl-cc.other', { exclusive: true });
    await ch.bindQueue('dl-cc.other', 'dl-cc.dlx', 'copy');
    await ch.bindQueue('dl-cc.dlq', 'dl-cc.dlx', 'copy'); // reached by both keys: still once
    ch.publish('dl-cc.in', 'job', Buffer.from('m'), { CC: ['copy'] });
    const got = await ch.get('dl-cc');
    if (!got) throw new Error('no message');
    ch.reject(got, false);
    await eventually(() => readyCount('dl-cc.other') === 1, 10_000, 'dead-lettered');
    const dlq = await drain(ch, 'dl-cc.dlq');
    const other = await drain(ch, 'dl-cc.other');
    expect(dlq.length).toBe(1);
    expect(other.length).toBe(1);
    for (const m of [...dlq, ...other]) {
      expect(m.fields).toMatchObject({ exchange: 'dl-cc.dlx', routingKey: 'job' });
      expect(m.properties.headers!['CC']).toEqual(['copy']);
      expect((m.properties.headers!['x-death'] as { 'routing-keys': string[] }[])[0]!['routing-keys']).toEqual(['job', 'copy']);
    }
  });

  it('BCC keys route the dead-lettered message too (without a DLRK), but are not in x-death nor in the headers', async () => {
    const ch = await clients.channel();
    await setup(ch, 'dl-bcc');
    await ch.assertQueue('dl-bcc.secret', { exclusive: true });
    await ch.bindQueue('dl-bcc.secret', 'dl-bcc.dlx', 'secret');
    const from = Date.now();
    ch.publish('dl-bcc.in', 'job', Buffer.from('m'), { BCC: ['secret'] });
    const got = await ch.get('dl-bcc');
    if (!got) throw new Error('no message');
    ch.reject(got, false);
    await eventually(() => readyCount('dl-bcc.secret') === 1 && readyCount('dl-bcc.dlq') === 1, 10_000, 'dead-lettered to both');
    for (const q of ['dl-bcc.dlq', 'dl-bcc.secret']) {
      const [m] = await drain(ch, q);
      expect(m!.properties.headers!['BCC']).toBeUndefined();
      expectXDeath(m!.properties.headers, [{ count: 1, reason: 'rejected', queue: 'dl-bcc', exchange: 'dl-bcc.in', 'routing-keys': ['job'] }], { from, to: Date.now() });
    }
  });

  it('the default exchange as DLX, with the DLQ name as routing key', async () => {
    const ch = await clients.channel();
    await ch.assertQueue('dl-default.dlq', { exclusive: true });
    await ch.assertQueue('dl-default', { exclusive: true, deadLetterExchange: '', deadLetterRoutingKey: 'dl-default.dlq' });
    const from = Date.now();
    ch.sendToQueue('dl-default', Buffer.from('m'));
    const got = await ch.get('dl-default');
    if (!got) throw new Error('no message');
    ch.nack(got, false, false);
    await eventually(() => readyCount('dl-default.dlq') === 1, 10_000, 'dead-lettered');
    const [m] = await drain(ch, 'dl-default.dlq');
    expect(m!.fields).toMatchObject({ exchange: '', routingKey: 'dl-default.dlq' });
    expectXDeath(m!.properties.headers, [{ count: 1, reason: 'rejected', queue: 'dl-default', exchange: '', 'routing-keys': ['dl-default'] }], { from, to: Date.now() });
  });

  it('a DLX that does not exist: the message is dropped and the channel stays open', async () => {
    const ch = await clients.channel();
    await ch.assertQueue('dl-missing', { exclusive: true, deadLetterExchange: 'no-such-exchange' });
    ch.sendToQueue('dl-missing', Buffer.from('m'));
    const got = await ch.get('dl-missing');
    if (!got) throw new Error('no message');
    ch.reject(got, false);
    await sync(ch);
    expect(await ch.checkQueue('dl-missing')).toMatchObject({ messageCount: 0 });
  });

  it('acked, requeued, purged and deleted messages are not dead-lettered', async () => {
    const ch = await clients.channel();
    await setup(ch, 'dl-none', { 'x-dead-letter-routing-key': 'job' });
    for (const b of ['acked', 'requeued', 'purged']) ch.publish('dl-none.in', 'job', Buffer.from(b));
    const a = await ch.get('dl-none');
    const r = await ch.get('dl-none');
    if (!a || !r) throw new Error('missing');
    ch.ack(a);
    ch.nack(r, false, true);
    await sync(ch);
    expect((await ch.purgeQueue('dl-none')).messageCount).toBe(2);
    ch.publish('dl-none.in', 'job', Buffer.from('deleted'));
    await sync(ch);
    expect((await ch.deleteQueue('dl-none')).messageCount).toBe(1);
    // Dead-lettering happens in the same step: drainBodies' round trips come after it.
    expect(await drainBodies(ch, 'dl-none.dlq')).toEqual([]);
  });
});

describe('repeated deaths and cycles', () => {
  it('dying again in the same queue for the same reason increments count and moves that entry first; time and x-first-death-* stay', async () => {
    const ch = await clients.channel();
    // A rejects into B, B rejects into A: a cycle with rejections, so it goes on.
    await ch.assertQueue('dl-ping', { exclusive: true, deadLetterExchange: '', deadLetterRoutingKey: 'dl-pong' });
    await ch.assertQueue('dl-pong', { exclusive: true, deadLetterExchange: '', deadLetterRoutingKey: 'dl-ping' });
    const from = Date.now();
    ch.sendToQueue('dl-ping', Buffer.from('ball'));
    const hops: string[] = [];
    let last;
    for (const q of ['dl-ping', 'dl-pong', 'dl-ping', 'dl-pong']) {
      await eventually(() => readyCount(q) === 1, 10_000, `ball in ${q}`);
      const m = await ch.get(q);
      if (!m) throw new Error(`no ball in ${q}`);
      hops.push(q);
      last = m;
      ch.reject(m, false);
    }
    expect(hops).toEqual(['dl-ping', 'dl-pong', 'dl-ping', 'dl-pong']);
    await eventually(() => readyCount('dl-ping') === 1, 10_000, 'ball back in dl-ping');
    const [m] = await drain(ch, 'dl-ping');
    const to = Date.now();
    const times = expectXDeath(m!.properties.headers, [
      { count: 2, reason: 'rejected', queue: 'dl-pong', exchange: '', 'routing-keys': ['dl-pong'] },
      { count: 2, reason: 'rejected', queue: 'dl-ping', exchange: '', 'routing-keys': ['dl-ping'] },
    ], { from, to });
    expect(firstDeath(m!.properties.headers)).toEqual({ reason: 'rejected', queue: 'dl-ping', exchange: '' });
    // The previous hop's header shows both entries at count 1 in the other order.
    expectXDeath(last!.properties.headers, [
      { count: 2, reason: 'rejected', queue: 'dl-ping', exchange: '', 'routing-keys': ['dl-ping'] },
      { count: 1, reason: 'rejected', queue: 'dl-pong', exchange: '', 'routing-keys': ['dl-pong'] },
    ], { from, to });
    expect(times.length).toBe(2);
  });

  it('a fully automatic cycle (expiry, DLX back into the same queue) drops the message', async () => {
    const ch = await clients.channel();
    await ch.assertQueue('dl-loop', { exclusive: true, messageTtl: 30, deadLetterExchange: '', deadLetterRoutingKey: 'dl-loop' });
    ch.sendToQueue('dl-loop', Buffer.from('m'));
    await sync(ch);
    await eventually(() => readyCount('dl-loop') === 0, 10_000, 'expired');
    await expiryBarrier(ch, 30); // it would have come back (and expired again) by now if it looped
    expect(await ch.checkQueue('dl-loop')).toMatchObject({ messageCount: 0 });
  });

  it('the cycle check is per target queue: a fanout DLX still reaches the queues the message never died in', async () => {
    const ch = await clients.channel();
    await ch.assertExchange('dl-fan.dlx', 'fanout', { autoDelete: true });
    await ch.assertQueue('dl-fan', { exclusive: true, messageTtl: 30, deadLetterExchange: 'dl-fan.dlx' });
    await ch.assertQueue('dl-fan.watch', { exclusive: true });
    await ch.bindQueue('dl-fan', 'dl-fan.dlx', '');
    await ch.bindQueue('dl-fan.watch', 'dl-fan.dlx', '');
    const from = Date.now();
    ch.sendToQueue('dl-fan', Buffer.from('m'));
    await eventually(() => readyCount('dl-fan.watch') === 1, 10_000, 'dead-lettered to the watcher');
    await expiryBarrier(ch, 30); // had it gone back into dl-fan, it would have died there again by now
    expect(readyCount('dl-fan')).toBe(0);
    const [m] = await drain(ch, 'dl-fan.watch');
    expectXDeath(m!.properties.headers, [{ count: 1, reason: 'expired', queue: 'dl-fan', exchange: '', 'routing-keys': ['dl-fan'] }], { from, to: Date.now() });
    expect(await drainBodies(ch, 'dl-fan.watch')).toEqual([]);
  });

  it('a cycle with a rejection in it continues, counting each queue and reason', async () => {
    const ch = await clients.channel();
    // work rejects into hold; hold expires back into work.
    await ch.assertQueue('dl-work', { exclusive: true, deadLetterExchange: '', deadLetterRoutingKey: 'dl-hold' });
    await ch.assertQueue('dl-hold', { exclusive: true, messageTtl: 30, deadLetterExchange: '', deadLetterRoutingKey: 'dl-work' });
    const from = Date.now();
    ch.sendToQueue('dl-work', Buffer.from('job'));
    for (let round = 1; round <= 2; round++) {
      await eventually(() => readyCount('dl-work') === 1, 10_000, `job back in dl-work (round ${round})`);
      const m = await ch.get('dl-work');
      if (!m) throw new Error('no job');
      if (round === 2) {
        expectXDeath(m.properties.headers, [
          { count: 1, reason: 'expired', queue: 'dl-hold', exchange: '', 'routing-keys': ['dl-hold'] },
          { count: 1, reason: 'rejected', queue: 'dl-work', exchange: '', 'routing-keys': ['dl-work'] },
        ], { from, to: Date.now() });
      }
      ch.reject(m, false);
    }
    await eventually(() => readyCount('dl-work') === 1, 10_000, 'job back in dl-work (round 3)');
    const [m] = await drain(ch, 'dl-work');
    expectXDeath(m!.properties.headers, [
      { count: 2, reason: 'expired', queue: 'dl-hold', exchange: '', 'routing-keys': ['dl-hold'] },
      { count: 2, reason: 'rejected', queue: 'dl-work', exchange: '', 'routing-keys': ['dl-work'] },
    ], { from, to: Date.now() });
    expect(firstDeath(m!.properties.headers)).toEqual({ reason: 'rejected', queue: 'dl-work', exchange: '' });
  });
});
