/**
 * Queue length limits (RabbitMQ extension) through amqplib: x-max-length and
 * x-max-length-bytes (body bytes of ready messages), x-overflow drop-head
 * (the oldest die as maxlen), reject-publish (the newest is refused: a nack in
 * confirm mode, silence otherwise) and reject-publish-dlx (refused and
 * dead-lettered); unacked messages do not count.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { ConfirmChannel } from 'amqplib';
import type { Broker } from '../../src/index.js';
import { eventually, startBroker } from '../helpers/broker.js';
import { Clients, consume, drain, drainBodies, sync } from '../helpers/model.js';
import { expectXDeath } from '../helpers/x-death.js';

let broker: Broker;
const clients = new Clients(() => broker);
beforeAll(async () => { broker = await startBroker(); });
afterEach(() => clients.closeAll());
afterAll(() => broker.stop());

const readyCount = (q: string): number => broker.queues('/').find((info) => info.name === q)?.messagesReady ?? -1;

/** Publishes each body on a confirm channel; resolves with 'ack' or 'nack' per message, in order. */
async function publishConfirmed(ch: ConfirmChannel, exchange: string, key: string, bodies: string[], options: object = {}): Promise<string[]> {
  return Promise.all(bodies.map((b) => new Promise<string>((resolve) => {
    ch.publish(exchange, key, Buffer.from(b), options, (err) => resolve(err ? 'nack' : 'ack'));
  })));
}

describe('x-overflow drop-head (the default)', () => {
  it('x-max-length keeps the newest messages; the oldest are dead-lettered with reason maxlen', async () => {
    const ch = await clients.channel();
    await ch.assertQueue('ml-dlq', { exclusive: true });
    await ch.assertQueue('ml', { exclusive: true, maxLength: 3, deadLetterExchange: '', deadLetterRoutingKey: 'ml-dlq' });
    const from = Date.now();
    for (const b of ['1', '2', '3', '4', '5']) ch.sendToQueue('ml', Buffer.from(b));
    await sync(ch);
    expect(await ch.checkQueue('ml')).toMatchObject({ messageCount: 3 });
    expect(await drainBodies(ch, 'ml')).toEqual(['3', '4', '5']);
    const dead = await drain(ch, 'ml-dlq');
    expect(dead.map((m) => m.content.toString())).toEqual(['1', '2']);
    for (const m of dead) {
      expect(m.fields).toMatchObject({ exchange: '', routingKey: 'ml-dlq' });
      expectXDeath(m.properties.headers, [{ count: 1, reason: 'maxlen', queue: 'ml', exchange: '', 'routing-keys': ['ml'] }], { from, to: Date.now() });
    }
  });

  it('x-max-length-bytes counts body bytes of ready messages', async () => {
    const ch = await clients.channel();
    await ch.assertQueue('mlb', { exclusive: true, arguments: { 'x-max-length-bytes': 10 } });
    for (const b of ['aaaa', 'bbbb', 'cccc']) ch.sendToQueue('mlb', Buffer.from(b)); // 12 bytes > 10: 'aaaa' goes
    ch.sendToQueue('mlb', Buffer.from('')); // empty bodies weigh nothing
    ch.sendToQueue('mlb', Buffer.from('dd')); // 10 bytes: fits exactly
    await sync(ch);
    expect(await drainBodies(ch, 'mlb')).toEqual(['bbbb', 'cccc', '', 'dd']);
    ch.sendToQueue('mlb', Buffer.from('0123456789A')); // bigger than the limit on its own
    await sync(ch);
    expect(await drainBodies(ch, 'mlb')).toEqual([]);
  });

  it('only ready messages count: unacked deliveries are not part of the length', async () => {
    const ch = await clients.channel();
    await ch.assertQueue('ml-unacked-dlq', { exclusive: true });
    await ch.assertQueue('ml-unacked', { exclusive: true, maxLength: 2, deadLetterExchange: '', deadLetterRoutingKey: 'ml-unacked-dlq' });
    await ch.prefetch(2);
    const inbox = await consume(ch, 'ml-unacked');
    for (const b of ['u1', 'u2']) ch.sendToQueue('ml-unacked', Buffer.from(b));
    await inbox.waitFor(2);
    for (const b of ['r1', 'r2']) ch.sendToQueue('ml-unacked', Buffer.from(b));
    await sync(ch);
    expect(await ch.checkQueue('ml-unacked')).toMatchObject({ messageCount: 2 });
    ch.sendToQueue('ml-unacked', Buffer.from('r3'));
    await sync(ch);
    await ch.cancel(inbox.tag);
    expect(await ch.checkQueue('ml-unacked')).toMatchObject({ messageCount: 2 });
    expect(await drainBodies(ch, 'ml-unacked-dlq')).toEqual(['r1']);
    // Requeued messages go back to the head; over the limit, the head is dropped again
    // (RabbitMQ's requeue_and_run → maybe_drop_head): the requeued ones die as maxlen.
    ch.nackAll(true);
    await sync(ch);
    expect(await drainBodies(ch, 'ml-unacked')).toEqual(['r2', 'r3']);
    const dead = await drain(ch, 'ml-unacked-dlq');
    expect(dead.map((m) => [m.content.toString(), (m.properties.headers!['x-death'] as { reason: string }[])[0]!.reason])).toEqual([['u1', 'maxlen'], ['u2', 'maxlen']]);
  });

  it('x-max-length 0: a waiting consumer still gets the message; without one it dies at once', async () => {
    const ch = await clients.channel();
    await ch.assertQueue('ml0-dlq', { exclusive: true });
    await ch.assertQueue('ml0', { exclusive: true, maxLength: 0, deadLetterExchange: '', deadLetterRoutingKey: 'ml0-dlq' });
    ch.sendToQueue('ml0', Buffer.from('dropped'));
    await sync(ch);
    const inbox = await consume(ch, 'ml0', { noAck: true });
    ch.sendToQueue('ml0', Buffer.from('delivered'));
    await inbox.waitFor(1);
    expect(inbox.bodies).toEqual(['delivered']);
    expect(await drainBodies(ch, 'ml0-dlq')).toEqual(['dropped']);
  });
});

describe('x-overflow reject-publish', () => {
  it('the queue keeps the old messages; the refused publish is nacked (confirm mode)', async () => {
    const ch = await clients.confirmChannel();
    await ch.assertQueue('rp', { exclusive: true, maxLength: 2, arguments: { 'x-overflow': 'reject-publish' } });
    expect(await publishConfirmed(ch, '', 'rp', ['1', '2', '3', '4'])).toEqual(['ack', 'ack', 'nack', 'nack']);
    expect(await drainBodies(ch, 'rp')).toEqual(['1', '2']);
    // Room again: accepted again.
    expect(await publishConfirmed(ch, '', 'rp', ['5'])).toEqual(['ack']);
    expect(await drainBodies(ch, 'rp')).toEqual(['5']);
  });

  it('x-max-length-bytes with reject-publish refuses the message that would not fit', async () => {
    const ch = await clients.confirmChannel();
    await ch.assertQueue('rpb', { exclusive: true, arguments: { 'x-max-length-bytes': 6, 'x-overflow': 'reject-publish' } });
    expect(await publishConfirmed(ch, '', 'rpb', ['abc', 'defg', 'hij'])).toEqual(['ack', 'nack', 'ack']);
    expect(await drainBodies(ch, 'rpb')).toEqual(['abc', 'hij']);
  });

  it('without confirms the refused message is silently dropped (the channel stays open)', async () => {
    const ch = await clients.channel();
    await ch.assertQueue('rp-silent', { exclusive: true, maxLength: 1, arguments: { 'x-overflow': 'reject-publish' } });
    for (const b of ['1', '2', '3']) ch.sendToQueue('rp-silent', Buffer.from(b));
    await sync(ch);
    expect(await drainBodies(ch, 'rp-silent')).toEqual(['1']);
  });

  it('is not dead-lettered; with mandatory it was routed, so there is no basic.return, only the nack', async () => {
    const ch = await clients.confirmChannel();
    const returned: string[] = [];
    ch.on('return', (m) => returned.push(m.content.toString()));
    await ch.assertQueue('rp-dlq', { exclusive: true });
    await ch.assertQueue('rp-m', { exclusive: true, maxLength: 1, deadLetterExchange: '', deadLetterRoutingKey: 'rp-dlq', arguments: { 'x-overflow': 'reject-publish' } });
    expect(await publishConfirmed(ch, '', 'rp-m', ['1', '2'], { mandatory: true })).toEqual(['ack', 'nack']);
    await sync(ch);
    expect(returned).toEqual([]);
    expect(await drainBodies(ch, 'rp-dlq')).toEqual([]);
  });

  it('a message routed to a full queue and to one with room: the other queue takes it, the publisher gets a nack', async () => {
    const ch = await clients.confirmChannel();
    await ch.assertExchange('rp-fan', 'fanout', { autoDelete: true });
    await ch.assertQueue('rp-full', { exclusive: true, maxLength: 1, arguments: { 'x-overflow': 'reject-publish' } });
    await ch.assertQueue('rp-room', { exclusive: true });
    await ch.bindQueue('rp-full', 'rp-fan', '');
    await ch.bindQueue('rp-room', 'rp-fan', '');
    expect(await publishConfirmed(ch, 'rp-fan', '', ['1', '2'])).toEqual(['ack', 'nack']);
    expect(await drainBodies(ch, 'rp-full')).toEqual(['1']);
    expect(await drainBodies(ch, 'rp-room')).toEqual(['1', '2']);
  });
});

describe('dead-lettering into a full queue', () => {
  it('a DLQ refusing the dead-lettered message (reject-publish) does not make the original publish a nack', async () => {
    const ch = await clients.confirmChannel();
    await ch.assertQueue('rp-fulldlq', { exclusive: true, maxLength: 1, arguments: { 'x-overflow': 'reject-publish' } });
    await ch.assertQueue('rp-src', { exclusive: true, maxLength: 1, deadLetterExchange: '', deadLetterRoutingKey: 'rp-fulldlq' });
    expect(await publishConfirmed(ch, '', 'rp-fulldlq', ['old'])).toEqual(['ack']);
    // The second publish drops the first from rp-src's head; its dead-letter copy is refused by the full DLQ.
    expect(await publishConfirmed(ch, '', 'rp-src', ['1', '2'])).toEqual(['ack', 'ack']);
    expect(await drainBodies(ch, 'rp-src')).toEqual(['2']);
    expect(await drainBodies(ch, 'rp-fulldlq')).toEqual(['old']);
  });
});

describe('x-overflow reject-publish-dlx', () => {
  it('refuses the newest message (nack) and dead-letters it with reason maxlen', async () => {
    const ch = await clients.confirmChannel();
    await ch.assertQueue('rpd-dlq', { exclusive: true });
    await ch.assertQueue('rpd', { exclusive: true, maxLength: 2, deadLetterExchange: '', deadLetterRoutingKey: 'rpd-dlq', arguments: { 'x-overflow': 'reject-publish-dlx' } });
    const from = Date.now();
    expect(await publishConfirmed(ch, '', 'rpd', ['1', '2', '3'], { expiration: '60000' })).toEqual(['ack', 'ack', 'nack']);
    expect(await drainBodies(ch, 'rpd')).toEqual(['1', '2']);
    await eventually(() => readyCount('rpd-dlq') === 1, 10_000, 'dead-lettered');
    const [m] = await drain(ch, 'rpd-dlq');
    expect(m!.content.toString()).toBe('3');
    expect(m!.fields).toMatchObject({ exchange: '', routingKey: 'rpd-dlq' });
    expect(m!.properties.expiration).toBeUndefined();
    expectXDeath(m!.properties.headers, [{ count: 1, reason: 'maxlen', queue: 'rpd', exchange: '', 'routing-keys': ['rpd'], 'original-expiration': '60000' }], { from, to: Date.now() });
  });
});
