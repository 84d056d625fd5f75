/**
 * Validation of RabbitMQ's queue arguments through amqplib (each refusal is a
 * 406 with RabbitMQ's text, checked in RabbitMQ's order, and creates nothing),
 * arguments and their behaviour surviving a restart with durable queues,
 * connection.update-secret, and the capabilities the server advertises.
 *
 * Integer types in error texts: Warren names a value's type from its decoded
 * value, so amqplib's small integers (sent as byte/short) would read as
 * signedint where RabbitMQ says byte/short; the cases below use values whose
 * type both agree on.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { Broker } from '../../src/index.js';
import { connect, startBroker } from '../helpers/broker.js';
import { Clients, drainBodies, expectChannelError, within } from '../helpers/model.js';

let broker: Broker;
const clients = new Clients(() => broker);
beforeAll(async () => { broker = await startBroker(); });
afterEach(() => clients.closeAll());
afterAll(() => broker.stop());

const arg = (key: string, detail: string, q = 'v-q'): string => `PRECONDITION_FAILED - invalid arg '${key}' for queue '${q}' in vhost '/': ${detail}`;

describe('queue argument validation', () => {
  it.each([
    ['x-max-length', -1, '{value_negative,-1}'],
    ['x-max-length', 'ten', '{unacceptable_type,longstr}'],
    ['x-max-length', 1.5, '{unacceptable_type,double}'],
    ['x-max-length-bytes', -100_000, '{value_negative,-100000}'],
    ['x-max-length-bytes', true, '{unacceptable_type,bool}'],
    ['x-message-ttl', -1, '{value_negative,-1}'],
    ['x-message-ttl', 4_294_967_296, '{value_too_big,4294967296}'],
    ['x-message-ttl', '1000', '{unacceptable_type,longstr}'],
    ['x-expires', 0, '{value_zero,0}'],
    ['x-expires', -1, '{value_negative,-1}'],
    ['x-expires', 4_294_967_296, '{value_too_big,4294967296}'],
    ['x-expires', { ms: 1 }, '{unacceptable_type,table}'],
    ['x-max-priority', 300, '{max_value_exceeded,300}'],
    ['x-max-priority', -1, '{value_negative,-1}'],
    ['x-max-priority', 'high', '{unacceptable_type,longstr}'],
    ['x-overflow', 'nope', 'invalid_overflow'],
    ['x-overflow', true, '{unacceptable_type,bool}'],
    ['x-overflow', Buffer.from('drop-head'), '{unacceptable_type,binary}'],
    ['x-queue-mode', 'turbo', 'invalid_queue_mode'],
    ['x-single-active-consumer', 'yes', '{unacceptable_type,longstr}'],
    ['x-single-active-consumer', 100_000, '{unacceptable_type,signedint}'],
    ['x-queue-type', true, '{unacceptable_type,bool}'],
    ['x-delivery-limit', -1, '{value_negative,-1}'],
    ['x-dead-letter-routing-key', 'rk', 'routing_key_but_no_dlx_defined'],
  ])('%s = %j is refused: %s', async (key, value, detail) => {
    const ch = await clients.channel();
    await expectChannelError(ch, () => ch.assertQueue('v-q', { exclusive: true, arguments: { [key]: value } }), 406, arg(key, detail));
    // Nothing was created.
    const probe = await clients.channel();
    await expectChannelError(probe, () => probe.checkQueue('v-q'), 404, "NOT_FOUND - no queue 'v-q' in vhost '/'");
  });

  it('x-dead-letter-exchange must be a string: "invalid type" (checked before every other argument)', async () => {
    const ch = await clients.channel();
    await expectChannelError(ch, () => ch.assertQueue('v-q', { exclusive: true, arguments: { 'x-max-length': -1, 'x-dead-letter-exchange': true } }), 406,
      "PRECONDITION_FAILED - invalid type 'bool' for arg 'x-dead-letter-exchange' in queue 'v-q' in vhost '/'");
  });

  it('x-dead-letter-routing-key must be a string', async () => {
    const ch = await clients.channel();
    await expectChannelError(ch, () => ch.assertQueue('v-q', { exclusive: true, arguments: { 'x-dead-letter-exchange': 'dlx', 'x-dead-letter-routing-key': true } }), 406,
      arg('x-dead-letter-routing-key', '{unacceptable_type,bool}'));
  });

  it('several bad arguments: the first in RabbitMQ\'s order is reported (x-expires before x-message-ttl before x-max-length …)', async () => {
    const ch = await clients.channel();
    await expectChannelError(ch, () => ch.assertQueue('v-q', { exclusive: true, arguments: { 'x-max-length': -1, 'x-message-ttl': -2, 'x-expires': 0 } }), 406, arg('x-expires', '{value_zero,0}'));
    const ch2 = await clients.channel();
    await expectChannelError(ch2, () => ch2.assertQueue('v-q', { exclusive: true, arguments: { 'x-overflow': 'nope', 'x-max-priority': 1000, 'x-max-length': -1 } }), 406, arg('x-max-length', '{value_negative,-1}'));
    const ch3 = await clients.channel();
    await expectChannelError(ch3, () => ch3.assertQueue('v-q', { exclusive: true, arguments: { 'x-queue-type': 'foo', 'x-overflow': 'nope' } }), 406, arg('x-overflow', 'invalid_overflow'));
  });

  it('argument checks come before the quorum flag checks', async () => {
    const ch = await clients.channel();
    await expectChannelError(ch, () => ch.assertQueue('v-q', { durable: false, arguments: { 'x-queue-type': 'quorum', 'x-max-length': -1 } }), 406, arg('x-max-length', '{value_negative,-1}'));
  });

  it('the limits themselves are accepted: TTL 0 and 4294967295, x-max-priority 0 and 255, max lengths 0, unknown x- arguments', async () => {
    const ch = await clients.channel();
    const cases: Record<string, unknown>[] = [
      { 'x-message-ttl': 0 },
      { 'x-message-ttl': 4_294_967_295, 'x-expires': 4_294_967_295 },
      { 'x-max-priority': 0 },
      { 'x-max-priority': 255 },
      { 'x-max-length': 0, 'x-max-length-bytes': 0 },
      { 'x-overflow': 'reject-publish-dlx', 'x-queue-mode': 'lazy', 'x-single-active-consumer': true },
      { 'x-custom-thing': 'whatever', 'x-dead-letter-exchange': 'not-yet-declared' },
    ];
    for (const [i, args] of cases.entries()) {
      expect(await ch.assertQueue(`v-ok-${i}`, { exclusive: true, arguments: args })).toMatchObject({ queue: `v-ok-${i}`, messageCount: 0 });
    }
  });
});

describe('durable queues keep their arguments across a restart', () => {
  const dirs: string[] = [];
  afterAll(() => {
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });

  it('the arguments are compared on redeclare and still apply (x-max-length with reject-publish, x-max-priority)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'warren-ext-args-'));
    dirs.push(dir);
    const args = { 'x-max-length': 2, 'x-overflow': 'reject-publish', 'x-message-ttl': 600_000 };
    let b = await startBroker({ dataDir: dir });
    try {
      const conn = await connect(b);
      const ch = await conn.createConfirmChannel();
      await ch.assertQueue('v-durable', { durable: true, arguments: args });
      await ch.assertQueue('v-durable-prio', { durable: true, maxPriority: 5 });
      for (const m of ['1', '2']) ch.sendToQueue('v-durable', Buffer.from(m), { persistent: true });
      for (const [m, p] of [['low', 1], ['high', 5]] as const) ch.sendToQueue('v-durable-prio', Buffer.from(m), { persistent: true, priority: p });
      await ch.waitForConfirms();
      await conn.close();
    } finally {
      await b.stop();
    }
    b = await startBroker({ dataDir: dir });
    try {
      const conn = await connect(b);
      conn.on('error', () => {});
      const ch = await conn.createConfirmChannel();
      ch.on('error', () => {});
      expect(await ch.assertQueue('v-durable', { durable: true, arguments: args })).toMatchObject({ messageCount: 2 });
      // Still full: the publish is refused.
      const outcome = await new Promise<string>((resolve) => ch.sendToQueue('v-durable', Buffer.from('3'), { persistent: true }, (err) => resolve(err ? 'nack' : 'ack')));
      expect(outcome).toBe('nack');
      expect(await drainBodies(ch, 'v-durable')).toEqual(['1', '2']);
      expect(await drainBodies(ch, 'v-durable-prio')).toEqual(['high', 'low']);
      await expectChannelError(ch, () => ch.assertQueue('v-durable', { durable: true, arguments: { ...args, 'x-max-length': 3 } }), 406,
        "PRECONDITION_FAILED - inequivalent arg 'x-max-length' for queue 'v-durable' in vhost '/'");
      await conn.close();
    } finally {
      await b.stop();
    }
  });
});

describe('connection.update-secret', () => {
  it('a valid new secret is accepted: update-secret-ok, and the connection carries on', async () => {
    const conn = await clients.connect();
    await within(conn.updateSecret(Buffer.from('guest'), 'token refresh'), 10_000, 'update-secret-ok');
    const ch = await clients.channel(conn);
    expect(await ch.assertQueue('v-after-secret', { exclusive: true })).toMatchObject({ queue: 'v-after-secret' });
  });

  it('an arbitrary new secret is accepted as by RabbitMQ\'s internal backend: update-secret-ok, and the connection carries on', async () => {
    // amqplib's own test suite sends a made-up secret; RabbitMQ answers update-secret-ok for
    // users of its internal database (only token backends check the secret).
    const conn = await clients.connect();
    const events: string[] = [];
    conn.on('error', (e: Error) => events.push(e.message));
    conn.on('close', () => events.push('close'));
    await within(conn.updateSecret(Buffer.from('not-the-password'), 'rotation'), 10_000, 'update-secret-ok');
    const ch = await clients.channel(conn);
    await ch.assertQueue('v-after-arbitrary-secret', { exclusive: true });
    ch.sendToQueue('v-after-arbitrary-secret', Buffer.from('after rotation'));
    const got = await ch.get('v-after-arbitrary-secret', { noAck: true });
    expect(got && got.content.toString()).toBe('after rotation');
    expect(events).toEqual([]);
  });
});

describe('capabilities', () => {
  it('server-properties advertise consumer_priorities and direct_reply_to (with the other extensions)', async () => {
    const conn = await clients.connect();
    const props = (conn as unknown as { connection: { serverProperties: { capabilities: Record<string, unknown> } } }).connection.serverProperties;
    expect(props.capabilities).toMatchObject({
      consumer_priorities: true,
      direct_reply_to: true,
      publisher_confirms: true,
      exchange_exchange_bindings: true,
      'basic.nack': true,
      consumer_cancel_notify: true,
      per_consumer_qos: true,
      authentication_failure_close: true,
      'connection.blocked': true,
    });
  });
});
