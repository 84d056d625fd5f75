/**
 * Alternate exchanges (the `alternate-exchange` argument, RabbitMQ extension)
 * through amqplib: unroutable messages go to the AE; mandatory returns only
 * when the AE routes nowhere either; chains and cycles of AEs; RabbitMQ's
 * per-exchange rule with exchange-to-exchange bindings (an exchange's AE is
 * used when that exchange itself matched nothing); CC keys; internal AEs; the
 * AE of a dead-letter exchange; and the argument's checks.
 */
import type { Channel, Message } from 'amqplib';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { Broker } from '../../src/index.js';
import { startBroker, eventually } from '../helpers/broker.js';
import { Clients, drain, drainBodies, expectChannelError, sync } from '../helpers/model.js';

let broker: Broker;
const clients = new Clients(() => broker);
beforeAll(async () => { broker = await startBroker(); });
afterEach(() => clients.closeAll());
afterAll(() => broker.stop());

/** Collects basic.returns on a channel. */
function returns(ch: Channel): Message[] {
  const got: Message[] = [];
  ch.on('return', (m: Message) => got.push(m));
  return got;
}

describe('alternate-exchange', () => {
  it('an unroutable message goes to the AE (fields unchanged); mandatory gets no basic.return; routable ones do not use it', async () => {
    const ch = await clients.confirmChannel();
    const returned = returns(ch);
    await ch.assertExchange('ae-1.ae', 'fanout', { autoDelete: true });
    await ch.assertExchange('ae-1', 'direct', { autoDelete: true, alternateExchange: 'ae-1.ae' });
    await ch.assertQueue('ae-1.unrouted', { exclusive: true });
    await ch.assertQueue('ae-1.routed', { exclusive: true });
    await ch.bindQueue('ae-1.unrouted', 'ae-1.ae', '');
    await ch.bindQueue('ae-1.routed', 'ae-1', 'known');
    ch.publish('ae-1', 'unknown', Buffer.from('lost'), { mandatory: true });
    ch.publish('ae-1', 'known', Buffer.from('found'), { mandatory: true });
    await ch.waitForConfirms();
    await sync(ch);
    expect(returned).toEqual([]);
    const [m] = await drain(ch, 'ae-1.unrouted');
    expect(m!.content.toString()).toBe('lost');
    expect(m!.fields).toMatchObject({ exchange: 'ae-1', routingKey: 'unknown' });
    expect(await drainBodies(ch, 'ae-1.unrouted')).toEqual([]);
    expect(await drainBodies(ch, 'ae-1.routed')).toEqual(['found']);
  });

  it('when the AE routes nowhere either, a mandatory message is returned (312 NO_ROUTE, original exchange and key) and confirmed', async () => {
    const ch = await clients.confirmChannel();
    const returned = returns(ch);
    await ch.assertExchange('ae-2.ae', 'direct', { autoDelete: true });
    await ch.assertExchange('ae-2', 'direct', { autoDelete: true, alternateExchange: 'ae-2.ae' });
    await ch.assertQueue('ae-2.q', { exclusive: true });
    await ch.bindQueue('ae-2.q', 'ae-2.ae', 'other'); // the AE is routed with the original key: 'nope' matches nothing
    ch.publish('ae-2', 'nope', Buffer.from('bounced'), { mandatory: true });
    ch.publish('ae-2', 'nope', Buffer.from('dropped'), { mandatory: false });
    await ch.waitForConfirms();
    await eventually(() => returned.length === 1, 10_000, 'basic.return');
    await sync(ch);
    expect(returned.map((m) => [m.content.toString(), m.fields])).toEqual([
      ['bounced', { replyCode: 312, replyText: 'NO_ROUTE', exchange: 'ae-2', routingKey: 'nope' }],
    ]);
    expect(await drainBodies(ch, 'ae-2.q')).toEqual([]);
  });

  it('AEs chain: the AE of the AE is tried next', async () => {
    const ch = await clients.channel();
    await ch.assertExchange('ae-3.last', 'fanout', { autoDelete: true });
    await ch.assertExchange('ae-3.mid', 'direct', { autoDelete: true, alternateExchange: 'ae-3.last' });
    await ch.assertExchange('ae-3', 'topic', { autoDelete: true, alternateExchange: 'ae-3.mid' });
    await ch.assertQueue('ae-3.mid-q', { exclusive: true });
    await ch.assertQueue('ae-3.last-q', { exclusive: true });
    await ch.bindQueue('ae-3.mid-q', 'ae-3.mid', 'mid-key');
    await ch.bindQueue('ae-3.last-q', 'ae-3.last', '');
    ch.publish('ae-3', 'mid-key', Buffer.from('to-mid'));
    ch.publish('ae-3', 'other', Buffer.from('to-last'));
    await sync(ch);
    expect(await drainBodies(ch, 'ae-3.mid-q')).toEqual(['to-mid']);
    expect(await drainBodies(ch, 'ae-3.last-q')).toEqual(['to-last']);
  });

  it('an AE cycle does not loop: the message is returned once', async () => {
    const ch = await clients.confirmChannel();
    const returned = returns(ch);
    await ch.assertExchange('ae-4.a', 'direct', { autoDelete: true, alternateExchange: 'ae-4.b' });
    await ch.assertExchange('ae-4.b', 'direct', { autoDelete: true, alternateExchange: 'ae-4.a' });
    await ch.assertExchange('ae-4.self', 'direct', { autoDelete: true, alternateExchange: 'ae-4.self' });
    ch.publish('ae-4.a', 'k', Buffer.from('cycle'), { mandatory: true });
    ch.publish('ae-4.self', 'k', Buffer.from('self'), { mandatory: true });
    await ch.waitForConfirms();
    await eventually(() => returned.length === 2, 10_000, 'two returns');
    await sync(ch);
    expect(returned.map((m) => m.content.toString())).toEqual(['cycle', 'self']);
  });

  it('an AE that does not exist is ignored: the message is unroutable', async () => {
    const ch = await clients.confirmChannel();
    const returned = returns(ch);
    await ch.assertExchange('ae-5', 'direct', { autoDelete: true, alternateExchange: 'ae-5.missing' });
    ch.publish('ae-5', 'k', Buffer.from('m'), { mandatory: true });
    await ch.waitForConfirms();
    await eventually(() => returned.length === 1, 10_000, 'basic.return');
    expect(returned[0]!.fields).toMatchObject({ replyCode: 312, replyText: 'NO_ROUTE', exchange: 'ae-5', routingKey: 'k' });
    expect(returned[0]!.content.toString()).toBe('m');
  });

  it('CC keys count as routing: a message routed by its CC key does not go to the AE', async () => {
    const ch = await clients.channel();
    await ch.assertExchange('ae-6.ae', 'fanout', { autoDelete: true });
    await ch.assertExchange('ae-6', 'direct', { autoDelete: true, alternateExchange: 'ae-6.ae' });
    await ch.assertQueue('ae-6.ae-q', { exclusive: true });
    await ch.assertQueue('ae-6.cc-q', { exclusive: true });
    await ch.bindQueue('ae-6.ae-q', 'ae-6.ae', '');
    await ch.bindQueue('ae-6.cc-q', 'ae-6', 'cc-key');
    ch.publish('ae-6', 'no-binding', Buffer.from('by-cc'), { CC: ['cc-key'] });
    ch.publish('ae-6', 'no-binding', Buffer.from('unrouted'), { CC: ['no-binding-either'] });
    await sync(ch);
    expect(await drainBodies(ch, 'ae-6.cc-q')).toEqual(['by-cc']);
    expect(await drainBodies(ch, 'ae-6.ae-q')).toEqual(['unrouted']);
  });

  it('an internal exchange works as an AE (it only refuses direct publishes)', async () => {
    const ch = await clients.channel();
    await ch.assertExchange('ae-7.ae', 'fanout', { autoDelete: true, internal: true });
    await ch.assertExchange('ae-7', 'direct', { autoDelete: true, alternateExchange: 'ae-7.ae' });
    await ch.assertQueue('ae-7.q', { exclusive: true });
    await ch.bindQueue('ae-7.q', 'ae-7.ae', '');
    ch.publish('ae-7', 'k', Buffer.from('via-internal'));
    await sync(ch);
    expect(await drainBodies(ch, 'ae-7.q')).toEqual(['via-internal']);
  });
});

describe('alternate exchanges with exchange-to-exchange bindings (RabbitMQ applies each exchange\'s AE when that exchange matched nothing)', () => {
  it('a bound exchange that matches nothing uses its own AE', async () => {
    const ch = await clients.channel();
    await ch.assertExchange('ae-e2e.inner-ae', 'fanout', { autoDelete: true });
    await ch.assertExchange('ae-e2e.inner', 'direct', { autoDelete: true, alternateExchange: 'ae-e2e.inner-ae' });
    await ch.assertExchange('ae-e2e.outer-ae', 'fanout', { autoDelete: true });
    await ch.assertExchange('ae-e2e', 'direct', { autoDelete: true, alternateExchange: 'ae-e2e.outer-ae' });
    await ch.assertQueue('ae-e2e.inner-ae-q', { exclusive: true });
    await ch.assertQueue('ae-e2e.outer-ae-q', { exclusive: true });
    await ch.assertQueue('ae-e2e.direct-q', { exclusive: true });
    await ch.bindQueue('ae-e2e.inner-ae-q', 'ae-e2e.inner-ae', '');
    await ch.bindQueue('ae-e2e.outer-ae-q', 'ae-e2e.outer-ae', '');
    await ch.bindExchange('ae-e2e.inner', 'ae-e2e', 'k');
    await ch.bindQueue('ae-e2e.direct-q', 'ae-e2e', 'k2');
    // 'k': the outer exchange matched (the inner exchange), so the outer AE is not used; the inner one matched nothing.
    ch.publish('ae-e2e', 'k', Buffer.from('inner-unrouted'));
    // 'x': the outer exchange matched nothing.
    ch.publish('ae-e2e', 'x', Buffer.from('outer-unrouted'));
    await sync(ch);
    expect(await drainBodies(ch, 'ae-e2e.inner-ae-q')).toEqual(['inner-unrouted']);
    expect(await drainBodies(ch, 'ae-e2e.outer-ae-q')).toEqual(['outer-unrouted']);
    expect(await drainBodies(ch, 'ae-e2e.direct-q')).toEqual([]);
  });

  it('the outer AE is not used when the outer exchange matched a bound exchange that routes nowhere: the message is returned', async () => {
    const ch = await clients.confirmChannel();
    const returned = returns(ch);
    await ch.assertExchange('ae-e2e2.inner', 'direct', { autoDelete: true });
    await ch.assertExchange('ae-e2e2.outer-ae', 'fanout', { autoDelete: true });
    await ch.assertExchange('ae-e2e2', 'direct', { autoDelete: true, alternateExchange: 'ae-e2e2.outer-ae' });
    await ch.assertQueue('ae-e2e2.outer-ae-q', { exclusive: true });
    await ch.bindQueue('ae-e2e2.outer-ae-q', 'ae-e2e2.outer-ae', '');
    await ch.bindExchange('ae-e2e2.inner', 'ae-e2e2', 'k');
    ch.publish('ae-e2e2', 'k', Buffer.from('nowhere'), { mandatory: true });
    await ch.waitForConfirms();
    await eventually(() => returned.length === 1, 10_000, 'basic.return');
    expect(await drainBodies(ch, 'ae-e2e2.outer-ae-q')).toEqual([]);
  });

  it('queues reached both directly and through an AE get the message once', async () => {
    const ch = await clients.channel();
    await ch.assertExchange('ae-once.ae', 'fanout', { autoDelete: true });
    await ch.assertExchange('ae-once.inner', 'direct', { autoDelete: true, alternateExchange: 'ae-once.ae' });
    await ch.assertExchange('ae-once', 'fanout', { autoDelete: true });
    await ch.assertQueue('ae-once.q', { exclusive: true });
    await ch.bindQueue('ae-once.q', 'ae-once', '');
    await ch.bindQueue('ae-once.q', 'ae-once.ae', '');
    await ch.bindExchange('ae-once.inner', 'ae-once', '');
    ch.publish('ae-once', 'k', Buffer.from('once'));
    await sync(ch);
    expect(await drainBodies(ch, 'ae-once.q')).toEqual(['once']);
  });
});

describe('alternate exchanges elsewhere', () => {
  it('dead-lettered messages the DLX cannot route go to the DLX\'s AE', async () => {
    const ch = await clients.channel();
    await ch.assertExchange('ae-dl.ae', 'fanout', { autoDelete: true });
    await ch.assertExchange('ae-dl.dlx', 'direct', { autoDelete: true, alternateExchange: 'ae-dl.ae' });
    await ch.assertQueue('ae-dl.catch', { exclusive: true });
    await ch.bindQueue('ae-dl.catch', 'ae-dl.ae', '');
    await ch.assertQueue('ae-dl', { exclusive: true, deadLetterExchange: 'ae-dl.dlx' });
    ch.sendToQueue('ae-dl', Buffer.from('dead'));
    const m = await ch.get('ae-dl');
    if (!m) throw new Error('no message');
    ch.reject(m, false);
    await eventually(async () => (await ch.checkQueue('ae-dl.catch')).messageCount === 1, 10_000, 'dead-lettered via the AE');
    const [d] = await drain(ch, 'ae-dl.catch');
    expect(d!.fields).toMatchObject({ exchange: 'ae-dl.dlx', routingKey: 'ae-dl' });
    expect((d!.properties.headers!['x-death'] as { reason: string }[])[0]!.reason).toBe('rejected');
  });

  it('alternate-exchange must be a string: "invalid type" 406 naming its type', async () => {
    const ch = await clients.channel();
    // (A boolean: Warren names integer types from the decoded value, so a small number would show as signedint, not byte.)
    await expectChannelError(ch, () => ch.assertExchange('ae-bad', 'direct', { arguments: { 'alternate-exchange': true } }), 406,
      "PRECONDITION_FAILED - invalid type 'bool' for arg 'alternate-exchange' in exchange 'ae-bad' in vhost '/'");
  });

  it('redeclaring with a different alternate-exchange is a 406 inequivalent arg', async () => {
    const ch = await clients.channel();
    await ch.assertExchange('ae-eq', 'direct', { autoDelete: false, alternateExchange: 'one' });
    await expectChannelError(ch, () => ch.assertExchange('ae-eq', 'direct', { autoDelete: false, alternateExchange: 'two' }), 406,
      "PRECONDITION_FAILED - inequivalent arg 'alternate-exchange' for exchange 'ae-eq' in vhost '/': received the value 'two' of type 'longstr' but current is the value 'one' of type 'longstr'");
    const ch2 = await clients.channel();
    await ch2.deleteExchange('ae-eq');
  });
});
