/**
 * Direct reply-to (amq.rabbitmq.reply-to, RabbitMQ extension) through
 * amqplib: the requester consumes the pseudo-queue in no-ack mode, its
 * request's reply_to becomes a generated address the RPC worker sees, and the
 * worker's reply (default exchange, that address as routing key) comes
 * straight back to the requester's consumer, correlation id intact. Errors:
 * consuming with acks, publishing with reply_to before consuming; replies to
 * a gone channel are dropped silently; declares of the pseudo-queue.
 */
import type { Channel, ConsumeMessage } from 'amqplib';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { Broker } from '../../src/index.js';
import { eventually, startBroker } from '../helpers/broker.js';
import { WAIT_MS } from '../helpers/wait.js';
import { Clients, body, consume, expectChannelError, sync } from '../helpers/model.js';

let broker: Broker;
const clients = new Clients(() => broker);
beforeAll(async () => { broker = await startBroker(); });
afterEach(() => clients.closeAll());
afterAll(() => broker.stop());

const REPLY_TO = 'amq.rabbitmq.reply-to';
const ADDRESS = /^amq\.rabbitmq\.reply-to\.[A-Za-z0-9_\-.+/=]+$/;

/** An RPC worker on `queue` answering "re:<body>" to each request's reply_to, with its correlation id. */
async function startWorker(ch: Channel, queue: string, seen: ConsumeMessage[] = []): Promise<ConsumeMessage[]> {
  await ch.assertQueue(queue, { exclusive: true });
  await ch.consume(queue, (m) => {
    if (!m) return;
    seen.push(m);
    ch.sendToQueue(m.properties.replyTo as string, Buffer.from(`re:${body(m)}`), { correlationId: m.properties.correlationId, headers: { worker: 'w1' } });
    ch.ack(m);
  });
  return seen;
}

describe('direct reply-to', () => {
  it('a request gets a generated reply address; the reply comes straight back to the requester with its correlation id', async () => {
    const conn = await clients.connect();
    const workerCh = await clients.channel(conn);
    const seen = await startWorker(workerCh, 'rpc-1');
    const requester = await clients.channel(await clients.connect());
    const replies = await consume(requester, REPLY_TO, { noAck: true });
    requester.sendToQueue('rpc-1', Buffer.from('ping'), { replyTo: REPLY_TO, correlationId: 'c-1' });
    const [reply] = await replies.waitFor(1);
    expect(seen.length).toBe(1);
    const address = seen[0]!.properties.replyTo as string;
    expect(address).toMatch(ADDRESS);
    expect(body(reply!)).toBe('re:ping');
    expect(reply!.fields).toMatchObject({ consumerTag: replies.tag, exchange: '', routingKey: address, redelivered: false });
    expect(reply!.properties).toMatchObject({ correlationId: 'c-1', headers: { worker: 'w1' } });
  });

  it('many requests from two requesters: each gets exactly its own replies, in order', async () => {
    const workerCh = await clients.channel();
    await startWorker(workerCh, 'rpc-2');
    const [a, b] = [await clients.channel(), await clients.channel()];
    const ra = await consume(a, REPLY_TO, { noAck: true });
    const rb = await consume(b, REPLY_TO, { noAck: true });
    for (let i = 0; i < 20; i++) {
      a.sendToQueue('rpc-2', Buffer.from(`a${i}`), { replyTo: REPLY_TO, correlationId: `a${i}` });
      b.sendToQueue('rpc-2', Buffer.from(`b${i}`), { replyTo: REPLY_TO, correlationId: `b${i}` });
    }
    await ra.waitFor(20);
    await rb.waitFor(20);
    await sync(a);
    await sync(b);
    expect(ra.bodies).toEqual(Array.from({ length: 20 }, (_, i) => `re:a${i}`));
    expect(rb.bodies).toEqual(Array.from({ length: 20 }, (_, i) => `re:b${i}`));
    expect(ra.messages.map((m) => m.properties.correlationId)).toEqual(Array.from({ length: 20 }, (_, i) => `a${i}`));
    // One address per requesting channel.
    expect(new Set(ra.messages.map((m) => m.fields.routingKey)).size).toBe(1);
    expect(ra.messages[0]!.fields.routingKey).not.toBe(rb.messages[0]!.fields.routingKey);
  });

  it('consuming amq.rabbitmq.reply-to with acknowledgements is a 406', async () => {
    const ch = await clients.channel();
    await expectChannelError(ch, () => ch.consume(REPLY_TO, () => {}, { noAck: false }), 406, 'PRECONDITION_FAILED - reply consumer cannot acknowledge');
  });

  it('publishing with reply_to amq.rabbitmq.reply-to without consuming it first is a 406', async () => {
    const ch = await clients.channel();
    await ch.assertQueue('rpc-noconsumer', { exclusive: true });
    await expectChannelError(ch, () => ch.sendToQueue('rpc-noconsumer', Buffer.from('x'), { replyTo: REPLY_TO }), 406, 'PRECONDITION_FAILED - fast reply consumer does not exist');
    // Checked before the expiration, as RabbitMQ does.
    const ch2 = await clients.channel();
    await expectChannelError(ch2, () => ch2.sendToQueue('rpc-noconsumer', Buffer.from('x'), { replyTo: REPLY_TO, expiration: 'bad' }), 406, 'PRECONDITION_FAILED - fast reply consumer does not exist');
  });

  it('the reply consumer is per channel: another channel of the same connection cannot use it', async () => {
    const conn = await clients.connect();
    const consumerCh = await clients.channel(conn);
    await consume(consumerCh, REPLY_TO, { noAck: true });
    const other = await clients.channel(conn);
    await expectChannelError(other, () => other.sendToQueue('whatever', Buffer.from('x'), { replyTo: REPLY_TO }), 406, 'PRECONDITION_FAILED - fast reply consumer does not exist');
  });

  it('a second reply consumer on the same channel is a 406', async () => {
    const ch = await clients.channel();
    await consume(ch, REPLY_TO, { noAck: true });
    await expectChannelError(ch, () => ch.consume(REPLY_TO, () => {}, { noAck: true }), 406, 'PRECONDITION_FAILED - reply consumer already set');
  });

  it('replies to a channel that is gone (or cancelled its reply consumer) are dropped without an error for the replier', async () => {
    const workerCh = await clients.confirmChannel();
    await workerCh.assertQueue('rpc-gone', { exclusive: true });
    const requester = await clients.channel();
    const replies = await consume(requester, REPLY_TO, { noAck: true });
    requester.sendToQueue('rpc-gone', Buffer.from('q1'), { replyTo: REPLY_TO });
    const cancelledReq = await clients.channel();
    const cancelledReplies = await consume(cancelledReq, REPLY_TO, { noAck: true });
    cancelledReq.sendToQueue('rpc-gone', Buffer.from('q2'), { replyTo: REPLY_TO });
    await sync(requester);
    await sync(cancelledReq);
    const r1 = await workerCh.get('rpc-gone', { noAck: true });
    const r2 = await workerCh.get('rpc-gone', { noAck: true });
    if (!r1 || !r2) throw new Error('requests missing');
    await requester.close();
    await cancelledReq.cancel(cancelledReplies.tag);
    workerCh.sendToQueue(r1.properties.replyTo as string, Buffer.from('late-1'));
    workerCh.sendToQueue(r2.properties.replyTo as string, Buffer.from('late-2'));
    await workerCh.waitForConfirms();
    await sync(cancelledReq); // a delivery to the cancelled consumer would have come before this reply
    expect(replies.messages).toEqual([]);
    expect(cancelledReplies.messages).toEqual([]);
    // The replier's channel is fine.
    expect(await workerCh.checkQueue('rpc-gone')).toMatchObject({ messageCount: 0 });
  });

  it('queue.declare of the pseudo-queue is answered as a passive declare: 0 messages, 1 consumer; a gone address is 404', async () => {
    const ch = await clients.channel();
    expect(await ch.checkQueue(REPLY_TO)).toEqual({ queue: REPLY_TO, messageCount: 0, consumerCount: 1 });
    const requester = await clients.channel();
    await consume(requester, REPLY_TO, { noAck: true });
    await ch.assertQueue('rpc-declare', { exclusive: true });
    requester.sendToQueue('rpc-declare', Buffer.from('q'), { replyTo: REPLY_TO });
    await sync(requester);
    const req = await ch.get('rpc-declare', { noAck: true });
    if (!req) throw new Error('no request');
    const address = req.properties.replyTo as string;
    expect(await ch.assertQueue(address)).toEqual({ queue: address, messageCount: 0, consumerCount: 1 });
    await requester.close();
    await eventually(async () => {
      const probe = await clients.channel();
      try {
        await probe.checkQueue(address);
        return false;
      } catch (err) {
        expect((err as { code?: number }).code).toBe(404);
        return true;
      }
    }, WAIT_MS, 'address gone');
  });
});
