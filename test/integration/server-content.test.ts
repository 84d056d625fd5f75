/**
 * Content assembly (basic.publish → one content header → body frames summing
 * to body_size) as the server sees it from a raw client, delivered to an
 * amqplib consumer; plus the per-message checks made once a message is
 * assembled: max message size (406) and the user_id property (406).
 */
import type { ConsumeMessage } from 'amqplib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Broker } from '../../src/index.js';
import { MethodId } from '../../src/protocol/index.js';
import { roundTrip } from '../helpers/amqp-checks.js';
import { closedWith, connect, sendInSeparateReads, startBroker, type AmqpConnection } from '../helpers/broker.js';
import { RawClient, bodyFrames, frameBytes, headerFrame, methodFrame } from '../helpers/raw-client.js';

const MAX = 64 * 1024;

describe('content assembly', () => {
  let broker: Broker;
  let consumer: AmqpConnection;
  const clients: RawClient[] = [];
  beforeAll(async () => {
    broker = await startBroker({ maxMessageSize: MAX });
    consumer = await connect(broker);
  });
  afterAll(async () => {
    for (const c of clients) c.destroy();
    await consumer.close();
    await broker.stop();
  });

  async function open(frameMax?: number): Promise<RawClient> {
    const c = await RawClient.open(broker.port, frameMax === undefined ? {} : { frameMax });
    clients.push(c);
    await c.openChannel(1);
    return c;
  }

  /** A queue on the amqplib connection and a function resolving with its next `n` messages. */
  async function queue(n = 1): Promise<{ name: string; next: Promise<ConsumeMessage[]> }> {
    const ch = await consumer.createChannel();
    const { queue: name } = await ch.assertQueue('', { exclusive: true });
    const got: ConsumeMessage[] = [];
    const next = new Promise<ConsumeMessage[]>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`only ${got.length} of ${n} messages arrived`)), 10_000);
      void ch.consume(name, (m) => {
        if (!m) return;
        got.push(m);
        if (got.length === n) {
          clearTimeout(timer);
          resolve(got);
        }
      }, { noAck: true });
    });
    return { name, next };
  }

  it('assembles a body split over many frames (frame_max 4096) with its properties', async () => {
    const c = await open(4096);
    const q = await queue();
    const body = Buffer.alloc(50_000);
    for (let i = 0; i < body.length; i++) body[i] = i % 251;
    c.publish(1, '', q.name, body, { contentType: 'application/octet-stream', headers: { n: 1, s: 'x' }, messageId: 'm-1', priority: 3 });
    const [m] = await q.next;
    expect(m!.content.equals(body)).toBe(true);
    expect(m!.properties).toMatchObject({ contentType: 'application/octet-stream', headers: { n: 1, s: 'x' }, messageId: 'm-1', priority: 3 });
    await c.close();
  });

  it('body frames may be sent one TCP write at a time, and a zero-size body has no body frames', async () => {
    const c = await open();
    const q = await queue(2);
    await sendInSeparateReads(broker, c, [
      methodFrame(1, { id: MethodId.BasicPublish, args: { routingKey: q.name } }),
      headerFrame(1, 6, { type: 'split' }),
      frameBytes(3, 1, Buffer.from('abc')),
      frameBytes(3, 1, Buffer.from('def')),
    ]);
    // An empty message: publish + header with body_size 0, nothing else.
    c.send(Buffer.concat([methodFrame(1, { id: MethodId.BasicPublish, args: { routingKey: q.name } }), headerFrame(1, 0, { type: 'empty' })]));
    const [a, b] = await q.next;
    expect(a!.content.toString()).toBe('abcdef');
    expect(a!.properties.type).toBe('split');
    expect(b!.content.length).toBe(0);
    expect(b!.properties.type).toBe('empty');
    await c.close();
  });

  it('assembly is per channel: publishes on two channels may interleave', async () => {
    const c = await open();
    await c.openChannel(2);
    const q = await queue(2);
    c.send(Buffer.concat([
      methodFrame(1, { id: MethodId.BasicPublish, args: { routingKey: q.name } }),
      methodFrame(2, { id: MethodId.BasicPublish, args: { routingKey: q.name } }),
      headerFrame(2, 3),
      headerFrame(1, 3),
      bodyFrames(2, Buffer.from('two'), 131072),
      bodyFrames(1, Buffer.from('one'), 131072),
    ]));
    const got = await q.next;
    expect(got.map((m) => m.content.toString())).toEqual(['two', 'one']);
    await c.close();
  });

  it(`a message at maxMessageSize is accepted; one byte more is 406 PRECONDITION_FAILED on the channel`, async () => {
    const c = await open();
    const q = await queue(2);
    c.publish(1, '', q.name, Buffer.alloc(MAX, 1));

    c.publish(1, '', q.name, Buffer.alloc(MAX + 1, 2));
    expect(await c.waitForMethod(MethodId.ChannelClose, 1)).toEqual({
      replyCode: 406,
      replyText: `PRECONDITION_FAILED - message size ${MAX + 1} is larger than configured max size ${MAX}`,
      classId: 60,
      methodId: 40,
    });
    // The body frames that followed were ignored and nothing was routed; the connection is fine.
    c.sendMethod(1, { id: MethodId.ChannelCloseOk, args: {} });
    await c.openChannel(1);
    c.publish(1, '', q.name, Buffer.from('marker'));
    const [first, second] = await q.next;
    expect(first!.content.equals(Buffer.alloc(MAX, 1))).toBe(true);
    expect(second!.content.toString()).toBe('marker');
    await c.close();
  });

  it('the default maxMessageSize is 128 MiB (checked from the header, before any body arrives)', async () => {
    const other = await startBroker();
    try {
      const c = await RawClient.open(other.port);
      clients.push(c);
      await c.openChannel(1);
      const size = 128 * 1024 * 1024 + 1;
      c.send(Buffer.concat([methodFrame(1, { id: MethodId.BasicPublish, args: { routingKey: 'q' } }), headerFrame(1, size)]));
      const close = await c.waitForMethod(MethodId.ChannelClose, 1);
      expect(close.replyText).toBe(`PRECONDITION_FAILED - message size ${size} is larger than configured max size ${128 * 1024 * 1024}`);
      await c.close();
    } finally {
      await other.stop();
    }
  });

  it('a user_id property naming another user is 406 on the channel; the message is not routed', async () => {
    const ch = await consumer.createChannel();
    const { queue: name } = await ch.assertQueue('', { exclusive: true });
    const err = closedWith(ch);
    ch.sendToQueue(name, Buffer.from('forged'), { userId: 'someoneelse' });
    const e = await err;
    expect(e.code).toBe(406);
    expect(e.message).toBe(`Channel closed by server: 406 (PRECONDITION-FAILED) with message "PRECONDITION_FAILED - user_id property set to 'someoneelse' but authenticated user was 'guest'"`);
    expect((e as Error & { classId?: number; methodId?: number }).classId).toBe(60);
    const check = await consumer.createChannel();
    expect((await check.checkQueue(name)).messageCount).toBe(0);
    await check.close();
  });

  it('a user_id property matching the authenticated user is delivered with it', async () => {
    const q = await queue(1);
    const ch = await consumer.createChannel();
    ch.sendToQueue(q.name, Buffer.from('genuine'), { userId: 'guest' });
    const [m] = await q.next;
    expect(m!.content.toString()).toBe('genuine');
    expect(m!.properties.userId).toBe('guest');
    await ch.close();
    expect(await roundTrip(consumer)).toMatch(/^ping-/);
  });
});
