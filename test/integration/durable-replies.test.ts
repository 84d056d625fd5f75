/**
 * Replies that wait for durability (store/durability-port.ts) keep the
 * channel's request order: a client that pipelines a durable declare (whose
 * declare-ok waits for the definitions journal's fdatasync) with more methods
 * gets every reply, consume-ok and delivery in the order it asked, as
 * RabbitMQ's channel process answers them one at a time.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Broker } from '../../src/index.js';
import { MethodId } from '../../src/protocol/index.js';
import { connect, startBroker } from '../helpers/broker.js';
import { RawClient, bodyFrames, headerFrame, methodFrame } from '../helpers/raw-client.js';

const NAMES = new Map(Object.entries(MethodId).map(([k, v]) => [v as number, k]));

describe('replies that wait for durability', () => {
  let broker: Broker;
  let dir: string;
  const clients: RawClient[] = [];
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'warren-durable-replies-'));
    broker = await startBroker({ dataDir: dir, fsync: true });
  });
  afterAll(async () => {
    for (const c of clients) c.destroy();
    await broker.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  async function open(): Promise<RawClient> {
    const c = await RawClient.open(broker.port);
    clients.push(c);
    await c.openChannel(1);
    return c;
  }

  /** Names of the method frames received on channel 1 after channel.open-ok. */
  const methodsOn1 = (c: RawClient): string[] =>
    c.frames.filter((f) => f.channel === 1 && f.method && f.method.id !== MethodId.ChannelOpenOk).map((f) => NAMES.get(f.method!.id) ?? String(f.method!.id));

  it('answers pipelined durable and transient definition changes, consume and a delivery in request order', async () => {
    const c = await open();
    const body = Buffer.from('after the declares');
    c.send(Buffer.concat([
      methodFrame(1, { id: MethodId.QueueDeclare, args: { queue: 'ordered-durable', durable: true } }),
      methodFrame(1, { id: MethodId.BasicQos, args: { prefetchCount: 10 } }),
      methodFrame(1, { id: MethodId.QueueDeclare, args: { queue: 'ordered-transient', exclusive: true } }),
      methodFrame(1, { id: MethodId.ExchangeDeclare, args: { exchange: 'ordered-x', type: 'fanout', durable: true } }),
      methodFrame(1, { id: MethodId.QueueBind, args: { queue: 'ordered-durable', exchange: 'ordered-x', routingKey: '' } }),
      methodFrame(1, { id: MethodId.BasicConsume, args: { queue: 'ordered-durable', consumerTag: 'c1', noAck: true } }),
      methodFrame(1, { id: MethodId.BasicPublish, args: { exchange: 'ordered-x', routingKey: '' } }),
      headerFrame(1, body.length, { deliveryMode: 2 }),
      bodyFrames(1, body, c.frameMax),
      methodFrame(1, { id: MethodId.QueueUnbind, args: { queue: 'ordered-durable', exchange: 'ordered-x', routingKey: '' } }),
      methodFrame(1, { id: MethodId.ExchangeDelete, args: { exchange: 'ordered-x' } }),
      methodFrame(1, { id: MethodId.BasicQos, args: { prefetchCount: 20 } }),
    ]));
    await c.waitForMethod(MethodId.BasicQosOk, 1);
    await c.waitForMethod(MethodId.BasicQosOk, 1);
    expect(methodsOn1(c)).toEqual([
      'QueueDeclareOk', 'BasicQosOk', 'QueueDeclareOk', 'ExchangeDeclareOk', 'QueueBindOk', 'BasicConsumeOk', 'BasicDeliver',
      'QueueUnbindOk', 'ExchangeDeleteOk', 'BasicQosOk',
    ]);
    const declared = c.frames.filter((f) => f.method?.id === MethodId.QueueDeclareOk).map((f) => (f.method!.args as { queue: string }).queue);
    expect(declared).toEqual(['ordered-durable', 'ordered-transient']);
    const delivery = c.frames.findIndex((f) => f.method?.id === MethodId.BasicDeliver);
    expect(c.frames[delivery + 2]!.payload.toString()).toBe('after the declares');
  });

  it('sends tx.commit-ok, after the persistent publish is synced, before the replies to later methods', async () => {
    const c = await open();
    const body = Buffer.from('in the transaction');
    c.sendMethod(1, { id: MethodId.QueueDeclare, args: { queue: 'ordered-tx', durable: true } });
    await c.waitForMethod(MethodId.QueueDeclareOk, 1);
    c.sendMethod(1, { id: MethodId.TxSelect, args: {} });
    await c.waitForMethod(MethodId.TxSelectOk, 1);
    c.send(Buffer.concat([
      methodFrame(1, { id: MethodId.BasicPublish, args: { exchange: '', routingKey: 'ordered-tx' } }),
      headerFrame(1, body.length, { deliveryMode: 2 }),
      bodyFrames(1, body, c.frameMax),
      methodFrame(1, { id: MethodId.TxCommit, args: {} }),
      methodFrame(1, { id: MethodId.QueueDeclare, args: { queue: 'ordered-tx', passive: true } }),
      methodFrame(1, { id: MethodId.TxRollback, args: {} }),
    ]));
    const counted = await c.waitForMethod(MethodId.QueueDeclareOk, 1);
    await c.waitForMethod(MethodId.TxRollbackOk, 1);
    // The passive declare is handled after the commit: it counts the committed message.
    expect(counted.messageCount).toBe(1);
    expect(methodsOn1(c).slice(-4)).toEqual(['TxSelectOk', 'TxCommitOk', 'QueueDeclareOk', 'TxRollbackOk']);
  });

  it('keeps a channel error after a waiting reply in order, and other channels unaffected', async () => {
    const c = await open();
    await c.openChannel(2);
    c.send(Buffer.concat([
      methodFrame(1, { id: MethodId.QueueDeclare, args: { queue: 'ordered-then-error', durable: true } }),
      methodFrame(1, { id: MethodId.QueueDeclare, args: { queue: 'no-such-queue-here', passive: true } }),
      methodFrame(2, { id: MethodId.BasicQos, args: { prefetchCount: 1 } }),
    ]));
    await c.waitForMethod(MethodId.BasicQosOk, 2);
    const close = await c.waitFor((f) => f.channel === 1 && f.method?.id === MethodId.ChannelClose, undefined, 'channel.close');
    const args = close.method!.args as { replyCode: number; replyText: string };
    expect(args.replyCode).toBe(404);
    expect(args.replyText).toBe("NOT_FOUND - no queue 'no-such-queue-here' in vhost '/'");
    expect(methodsOn1(c)).toEqual(['QueueDeclareOk', 'ChannelClose']);
  });

  /** Channel numbers of the method frames `ids` in the order they reached the client. */
  const replyOrder = (c: RawClient, ids: number[]): string[] =>
    c.frames.filter((f) => f.method && ids.includes(f.method.id)).map((f) => `${NAMES.get(f.method!.id)} on ${f.channel}`);

  it("holds a redeclare-ok that changes nothing until another channel's pending durable declare is synced", async () => {
    const c = await open();
    await c.openChannel(2);
    await c.openChannel(3);
    // In one read: channel 1 declares a durable queue with nowait (its journal line is written,
    // its fdatasync runs later, off the event loop); channel 2 redeclares it with the same
    // arguments (nothing to append); channel 3 asks something that never waits. qos-ok is sent
    // in the same tick; the redeclare-ok only once channel 1's declaration is durable.
    c.send(Buffer.concat([
      methodFrame(1, { id: MethodId.QueueDeclare, args: { queue: 'redeclared-pending', durable: true, nowait: true } }),
      methodFrame(2, { id: MethodId.QueueDeclare, args: { queue: 'redeclared-pending', durable: true } }),
      methodFrame(3, { id: MethodId.BasicQos, args: { prefetchCount: 5 } }),
    ]));
    const ok = await c.waitForMethod(MethodId.QueueDeclareOk, 2);
    expect(ok.queue).toBe('redeclared-pending');
    expect(replyOrder(c, [MethodId.QueueDeclareOk, MethodId.BasicQosOk])).toEqual(['BasicQosOk on 3', 'QueueDeclareOk on 2']);

    // The same for a binding that already exists but is not durable yet.
    c.send(Buffer.concat([
      methodFrame(1, { id: MethodId.QueueBind, args: { queue: 'redeclared-pending', exchange: 'amq.direct', routingKey: 'pending-key', nowait: true } }),
      methodFrame(2, { id: MethodId.QueueBind, args: { queue: 'redeclared-pending', exchange: 'amq.direct', routingKey: 'pending-key' } }),
      methodFrame(3, { id: MethodId.BasicQos, args: { prefetchCount: 6 } }),
    ]));
    await c.waitForMethod(MethodId.QueueBindOk, 2);
    expect(replyOrder(c, [MethodId.QueueBindOk, MethodId.BasicQosOk]).slice(1)).toEqual(['BasicQosOk on 3', 'QueueBindOk on 2']);

    // Nothing pending: a redeclare is answered at once, in the same tick as the qos-ok after it.
    c.send(Buffer.concat([
      methodFrame(2, { id: MethodId.QueueDeclare, args: { queue: 'redeclared-pending', durable: true } }),
      methodFrame(3, { id: MethodId.BasicQos, args: { prefetchCount: 7 } }),
    ]));
    await c.waitForMethod(MethodId.QueueDeclareOk, 2);
    await c.waitForMethod(MethodId.BasicQosOk, 3);
    expect(replyOrder(c, [MethodId.QueueDeclareOk, MethodId.BasicQosOk]).slice(-2)).toEqual(['QueueDeclareOk on 2', 'BasicQosOk on 3']);
  });

  it('keeps a queue whose declare-ok was sent across a restart', async () => {
    const conn = await connect(broker);
    const ch = await conn.createChannel();
    const ok = await ch.assertQueue('ordered-restart', { durable: true });
    expect(ok.queue).toBe('ordered-restart');
    await conn.close();
    await broker.stop();
    broker = await startBroker({ dataDir: dir, fsync: true });
    const again = await connect(broker);
    const ch2 = await again.createChannel();
    const passive = await ch2.checkQueue('ordered-restart');
    expect(passive.queue).toBe('ordered-restart');
    await again.close();
  });
});
