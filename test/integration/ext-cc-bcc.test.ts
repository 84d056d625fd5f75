/**
 * Sender-selected distribution (CC and BCC headers, RabbitMQ extension)
 * through amqplib: extra routing keys from the CC header (kept in the
 * delivered headers) and the BCC header (routed, but stripped before any
 * consumer or basic.return sees it); every queue receives the message once;
 * the 406 for a CC/BCC that is not an array.
 */
import type { Message } from 'amqplib';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { Broker } from '../../src/index.js';
import { eventually, startBroker } from '../helpers/broker.js';
import { Clients, drain, drainBodies, expectChannelError, sync, txSelect } from '../helpers/model.js';

let broker: Broker;
const clients = new Clients(() => broker);
beforeAll(async () => { broker = await startBroker(); });
afterEach(() => clients.closeAll());
afterAll(() => broker.stop());

describe('CC and BCC', () => {
  it('CC keys route too, each queue receives the message once, and the CC header is delivered as sent', async () => {
    const ch = await clients.channel();
    await ch.assertExchange('cc-x', 'direct', { autoDelete: true });
    for (const q of ['cc-a', 'cc-b', 'cc-c', 'cc-ab', 'cc-none']) await ch.assertQueue(q, { exclusive: true });
    await ch.bindQueue('cc-a', 'cc-x', 'a');
    await ch.bindQueue('cc-b', 'cc-x', 'b');
    await ch.bindQueue('cc-c', 'cc-x', 'c');
    await ch.bindQueue('cc-ab', 'cc-x', 'a');
    await ch.bindQueue('cc-ab', 'cc-x', 'b');
    await ch.bindQueue('cc-none', 'cc-x', 'z');
    ch.publish('cc-x', 'a', Buffer.from('m'), { CC: ['b', 'c', 'b'], headers: { app: 1 } });
    await sync(ch);
    for (const q of ['cc-a', 'cc-b', 'cc-c', 'cc-ab']) {
      const got = await drain(ch, q);
      expect(got.length, q).toBe(1);
      expect(got[0]!.fields.routingKey).toBe('a');
      expect(got[0]!.properties.headers).toEqual({ app: 1, CC: ['b', 'c', 'b'] });
    }
    expect(await drainBodies(ch, 'cc-none')).toEqual([]);
  });

  it('BCC keys route, but the BCC header is removed before delivery (CC and other headers stay)', async () => {
    const ch = await clients.channel();
    await ch.assertExchange('bcc-x', 'topic', { autoDelete: true });
    for (const q of ['bcc-main', 'bcc-copy', 'bcc-secret']) await ch.assertQueue(q, { exclusive: true });
    await ch.bindQueue('bcc-main', 'bcc-x', 'orders.#');
    await ch.bindQueue('bcc-copy', 'bcc-x', 'audit.*');
    await ch.bindQueue('bcc-secret', 'bcc-x', 'secret.#');
    ch.publish('bcc-x', 'orders.new', Buffer.from('m'), { CC: ['audit.log'], BCC: ['secret.archive'], headers: { keep: 'yes' } });
    await sync(ch);
    for (const q of ['bcc-main', 'bcc-copy', 'bcc-secret']) {
      const got = await drain(ch, q);
      expect(got.length, q).toBe(1);
      expect(got[0]!.properties.headers).toEqual({ keep: 'yes', CC: ['audit.log'] });
    }
  });

  it('on the default exchange CC/BCC name more queues', async () => {
    const ch = await clients.channel();
    for (const q of ['ccd-1', 'ccd-2', 'ccd-3']) await ch.assertQueue(q, { exclusive: true });
    ch.sendToQueue('ccd-1', Buffer.from('m'), { CC: ['ccd-2'], BCC: ['ccd-3', 'ccd-1'] });
    await sync(ch);
    for (const q of ['ccd-1', 'ccd-2', 'ccd-3']) expect(await drainBodies(ch, q), q).toEqual(['m']);
  });

  it('array elements that are not strings are skipped (RabbitMQ reads only longstr routes)', async () => {
    const ch = await clients.channel();
    for (const q of ['ccn-1', 'ccn-2']) await ch.assertQueue(q, { exclusive: true });
    ch.sendToQueue('ccn-1', Buffer.from('m'), { headers: { CC: ['ccn-2', 5, true] } });
    await sync(ch);
    expect(await drainBodies(ch, 'ccn-1')).toEqual(['m']);
    expect(await drainBodies(ch, 'ccn-2')).toEqual(['m']);
  });

  it('a message routed only by its CC is not returned; an unroutable one is returned without its BCC header', async () => {
    const ch = await clients.confirmChannel();
    const returned: Message[] = [];
    ch.on('return', (m: Message) => returned.push(m));
    await ch.assertQueue('ccm', { exclusive: true });
    ch.publish('amq.direct', 'nobody', Buffer.from('by-cc'), { mandatory: true, CC: ['ccm-key'] });
    await ch.bindQueue('ccm', 'amq.direct', 'ccm-key');
    ch.publish('amq.direct', 'nobody', Buffer.from('by-cc-2'), { mandatory: true, CC: ['ccm-key'] });
    ch.publish('amq.direct', 'nobody', Buffer.from('lost'), { mandatory: true, CC: ['nobody-2'], BCC: ['nobody-3'], headers: { h: 1 } });
    await ch.waitForConfirms();
    await eventually(() => returned.length === 2, 10_000, 'two returns');
    expect(returned.map((m) => m.content.toString())).toEqual(['by-cc', 'lost']);
    expect(returned[1]!.properties.headers).toEqual({ h: 1, CC: ['nobody-2'] });
    expect(await drainBodies(ch, 'ccm')).toEqual(['by-cc-2']);
  });

  it.each([
    ['CC', 'a string', 'route', 'longstr'],
    ['BCC', 'a number', 100_000, 'signedint'], // amqplib sends it as a signed 32-bit int
    ['CC', 'a table', { k: 'v' }, 'table'],
  ])('a %s header that is %s is a 406 at publish', async (key, _what, value, type) => {
    const ch = await clients.channel();
    await ch.assertQueue('cc-bad', { exclusive: true });
    await expectChannelError(ch, () => ch.sendToQueue('cc-bad', Buffer.from('m'), { headers: { [key]: value } }), 406,
      `PRECONDITION_FAILED - invalid message: {unacceptable_type_in_header,"${key}",${type}}`);
  });

  it('the check happens at publish even inside a transaction', async () => {
    const ch = await clients.channel();
    await ch.assertQueue('cc-tx', { exclusive: true });
    await txSelect(ch);
    ch.sendToQueue('cc-tx', Buffer.from('ok'), { CC: ['cc-tx'] });
    await expectChannelError(ch, () => ch.sendToQueue('cc-tx', Buffer.from('m'), { headers: { CC: 'cc-tx' } }), 406,
      'PRECONDITION_FAILED - invalid message: {unacceptable_type_in_header,"CC",longstr}');
  });
});
