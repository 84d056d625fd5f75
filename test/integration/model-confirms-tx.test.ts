/**
 * Publisher confirms (amqplib ConfirmChannel) and transactions (tx.select /
 * commit / rollback, driven through amqplib's channel internals, since its
 * promise API has no tx methods).
 */
import type { Channel, ConfirmChannel, Message } from 'amqplib';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { Broker } from '../../src/index.js';
import { startBroker } from '../helpers/broker.js';
import { Clients, body, consume, drainBodies, expectChannelError, sync, tagOnly, txCommit, txRollback, txSelect, within } from '../helpers/model.js';

let broker: Broker;
const clients = new Clients(() => broker);
beforeAll(async () => { broker = await startBroker(); });
afterEach(() => clients.closeAll());
afterAll(() => broker.stop());

async function sharedQueue(ch: Channel, name: string, n = 0): Promise<string> {
  await ch.assertQueue(name, { durable: false });
  await ch.purgeQueue(name);
  for (let i = 1; i <= n; i++) ch.sendToQueue(name, Buffer.from(`${i}`));
  await sync(ch);
  return name;
}

const readyCount = async (ch: Channel, q: string): Promise<number> => (await ch.checkQueue(q)).messageCount;

describe('publisher confirms', () => {
  it('acks every publish, in increasing sequence, and every callback gets null', async () => {
    const ch = await clients.confirmChannel();
    const { queue: q } = await ch.assertQueue('', { exclusive: true });
    const acks: { deliveryTag: number; multiple: boolean }[] = [];
    let nacks = 0;
    ch.on('ack', (f: { deliveryTag: number; multiple: boolean }) => acks.push(f));
    ch.on('nack', () => nacks++);
    const n = 500;
    const results: Promise<unknown>[] = [];
    for (let i = 0; i < n; i++) {
      results.push(new Promise((resolve) => ch.sendToQueue(q, Buffer.from(`${i}`), {}, (err) => resolve(err))));
    }
    const errs = await within(Promise.all(results), 10_000, 'confirm callbacks');
    expect(errs.every((e) => e === null)).toBe(true);
    await ch.waitForConfirms();
    expect(nacks).toBe(0);
    // Strictly increasing tags ending at n; every seq covered exactly once.
    const tags = acks.map((a) => a.deliveryTag);
    expect(tags).toEqual([...tags].sort((x, y) => x - y));
    expect(new Set(tags).size).toBe(tags.length);
    expect(tags[tags.length - 1]).toBe(n);
    let covered = 0;
    for (const a of acks) {
      if (!a.multiple) expect(a.deliveryTag).toBe(covered + 1);
      covered = a.deliveryTag;
    }
    expect(await readyCount(ch, q)).toBe(n);
  });

  it('waitForConfirms resolves once everything published so far is confirmed', async () => {
    const ch = await clients.confirmChannel();
    const { queue: q } = await ch.assertQueue('', { exclusive: true });
    for (let i = 0; i < 50; i++) ch.sendToQueue(q, Buffer.from(`${i}`));
    await within(ch.waitForConfirms(), 10_000, 'waitForConfirms');
    for (let i = 0; i < 50; i++) ch.publish('amq.direct', 'unroutable', Buffer.from(`${i}`));
    await within(ch.waitForConfirms(), 10_000, 'waitForConfirms (unroutable)');
    expect(await readyCount(ch, q)).toBe(50);
  });

  it('an unroutable mandatory message is returned before it is acked', async () => {
    const ch = await clients.confirmChannel();
    const { queue: q } = await ch.assertQueue('', { exclusive: true });
    const events: string[] = [];
    ch.on('return', (m: Message) => events.push(`return:${body(m)}`));
    ch.on('ack', (f: { deliveryTag: number; multiple: boolean }) => events.push(`ack:${f.deliveryTag}`));
    const confirmed: string[] = [];
    const cb = (name: string) => (err: unknown): void => { confirmed.push(`${name}:${err === null ? 'ok' : 'err'}`); };
    ch.sendToQueue(q, Buffer.from('routed'), {}, cb('routed')); // seq 1
    ch.publish('amq.direct', 'nowhere', Buffer.from('lost'), { mandatory: true }, cb('lost')); // seq 2
    ch.sendToQueue(q, Buffer.from('routed-2'), {}, cb('routed-2')); // seq 3
    await ch.waitForConfirms();
    expect(confirmed).toEqual(['routed:ok', 'lost:ok', 'routed-2:ok']);
    const returnAt = events.indexOf('return:lost');
    expect(returnAt).toBeGreaterThanOrEqual(0);
    const ackFor2 = events.findIndex((e) => e.startsWith('ack:') && Number(e.slice(4)) >= 2);
    expect(returnAt).toBeLessThan(ackFor2);
  });

  it('publishing to a missing exchange closes the confirm channel with 404', async () => {
    const ch = await clients.confirmChannel();
    await expectChannelError(ch, () => ch.publish('nope', 'k', Buffer.from('x')), 404, "NOT_FOUND - no exchange 'nope' in vhost '/'");
  });

  it('confirm.select on a transactional channel is 406', async () => {
    const conn = await clients.connect();
    const ch = await clients.channel(conn);
    await txSelect(ch);
    const { rawRpc } = await import('../helpers/model.js');
    await expectChannelError(ch, () => rawRpc(ch, 'ConfirmSelect', { nowait: false }, 'ConfirmSelectOk'), 406, 'PRECONDITION_FAILED - cannot switch from tx to confirm mode');
  });

  it('tx.select on a confirm channel is 406', async () => {
    const ch: ConfirmChannel = await clients.confirmChannel();
    await expectChannelError(ch, () => txSelect(ch), 406, 'PRECONDITION_FAILED - cannot switch from confirm to tx mode');
  });

  it('confirm.select twice is fine', async () => {
    const ch = await clients.confirmChannel();
    const { rawRpc } = await import('../helpers/model.js');
    await rawRpc(ch, 'ConfirmSelect', { nowait: false }, 'ConfirmSelectOk');
    const { queue: q } = await ch.assertQueue('', { exclusive: true });
    await new Promise<void>((resolve, reject) => ch.sendToQueue(q, Buffer.from('x'), {}, (err) => (err ? reject(err) : resolve())));
    expect((await ch.checkQueue(q)).messageCount).toBe(1);
  });
});

describe('transactions', () => {
  it('publishes are invisible until commit', async () => {
    const conn = await clients.connect();
    const ch = await clients.channel(conn);
    const watcher = await clients.channel(conn);
    const q = await sharedQueue(ch, 'q-tx-publish');
    await txSelect(ch);
    for (let i = 1; i <= 3; i++) ch.sendToQueue(q, Buffer.from(`${i}`));
    await sync(ch);
    expect(await readyCount(watcher, q)).toBe(0);
    await txCommit(ch);
    expect(await readyCount(watcher, q)).toBe(3);
    // The channel stays transactional: the next batch waits for the next commit.
    ch.sendToQueue(q, Buffer.from('4'));
    await sync(ch);
    expect(await readyCount(watcher, q)).toBe(3);
    await txCommit(ch);
    expect(await drainBodies(watcher, q)).toEqual(['1', '2', '3', '4']);
  });

  it('rollback discards the publishes', async () => {
    const conn = await clients.connect();
    const ch = await clients.channel(conn);
    const q = await sharedQueue(ch, 'q-tx-rollback');
    await txSelect(ch);
    ch.sendToQueue(q, Buffer.from('discarded'));
    await txRollback(ch);
    ch.sendToQueue(q, Buffer.from('kept'));
    await txCommit(ch);
    expect(await drainBodies(await clients.channel(conn), q)).toEqual(['kept']);
  });

  it('an unroutable mandatory publish is returned at commit, not before', async () => {
    const ch = await clients.channel();
    await txSelect(ch);
    const returned: string[] = [];
    ch.on('return', (m: Message) => returned.push(body(m)));
    ch.publish('amq.direct', 'nowhere', Buffer.from('back'), { mandatory: true });
    await sync(ch); // a basic.return would have come before the reply
    expect(returned).toEqual([]);
    await txCommit(ch);
    await sync(ch);
    expect(returned).toEqual(['back']);
  });

  it('acks take effect at commit: until then the message is unacked', async () => {
    const conn = await clients.connect();
    const ch = await clients.channel(conn);
    const q = await sharedQueue(ch, 'q-tx-ack', 3);
    const [m1, m2, m3] = await Promise.all([ch.get(q), ch.get(q), ch.get(q)]);
    await txSelect(ch);
    ch.ack(m1 as Message);
    await txCommit(ch); // 1 is acked for good
    ch.ack(m2 as Message);
    await txRollback(ch); // 2 is still unacked
    ch.ack(m3 as Message); // 3: acked in the transaction, never committed
    await sync(ch);
    await ch.close(); // everything still unacked comes back: 2 and 3
    expect(await drainBodies(await clients.channel(conn), q)).toEqual(['2', '3']);
  });

  it('after a rollback the rolled-back tags can be acked again', async () => {
    const conn = await clients.connect();
    const ch = await clients.channel(conn);
    const q = await sharedQueue(ch, 'q-tx-reack', 2);
    const m1 = (await ch.get(q)) as Message;
    const m2 = (await ch.get(q)) as Message;
    await txSelect(ch);
    ch.ack(m2, true);
    await txRollback(ch);
    ch.ack(m1);
    await txCommit(ch);
    await ch.close();
    expect(await drainBodies(await clients.channel(conn), q)).toEqual(['2']);
  });

  it('nack with requeue in a transaction requeues at commit', async () => {
    const conn = await clients.connect();
    const ch = await clients.channel(conn);
    const watcher = await clients.channel(conn);
    const q = await sharedQueue(ch, 'q-tx-nack', 2);
    const m1 = (await ch.get(q)) as Message;
    const m2 = (await ch.get(q)) as Message;
    await txSelect(ch);
    ch.nack(m1, false, true);
    ch.reject(m2, false);
    await sync(ch);
    expect(await readyCount(watcher, q)).toBe(0);
    await txCommit(ch);
    expect(await drainBodies(watcher, q)).toEqual(['1']);
  });

  it('acks and publishes commit together', async () => {
    const conn = await clients.connect();
    const ch = await clients.channel(conn);
    const q = await sharedQueue(ch, 'q-tx-both', 1);
    const out = await sharedQueue(ch, 'q-tx-both-out');
    await ch.prefetch(1);
    const inbox = await consume(ch, q);
    const [m] = await inbox.waitFor(1);
    await txSelect(ch);
    ch.sendToQueue(out, Buffer.from(`processed ${body(m!)}`));
    ch.ack(m!);
    await txCommit(ch);
    await ch.close();
    const check = await clients.channel(conn);
    expect(await drainBodies(check, q)).toEqual([]);
    expect(await drainBodies(check, out)).toEqual(['processed 1']);
  });

  it('an unknown delivery tag in a transaction fails at once', async () => {
    const ch = await clients.channel();
    await txSelect(ch);
    await expectChannelError(ch, () => { ch.ack(tagOnly(5)); return sync(ch); }, 406, 'PRECONDITION_FAILED - unknown delivery tag 5');
  });

  it('acking the same tag twice in one transaction is 406 at the second ack (as RabbitMQ)', async () => {
    const ch = await clients.channel();
    const q = await sharedQueue(ch, 'q-tx-double', 1);
    const m = (await ch.get(q)) as Message;
    await txSelect(ch);
    ch.ack(m);
    await expectChannelError(ch, () => { ch.ack(m); return sync(ch); }, 406, 'PRECONDITION_FAILED - unknown delivery tag 1');
  });

  it('a tag covered by an earlier multiple ack in the transaction is unknown', async () => {
    const ch = await clients.channel();
    const q = await sharedQueue(ch, 'q-tx-multi', 3);
    const ms = [(await ch.get(q)) as Message, (await ch.get(q)) as Message, (await ch.get(q)) as Message];
    await txSelect(ch);
    ch.ack(ms[1]!, true); // claims 1 and 2
    ch.ack(ms[2]!); // 3 is still fine
    await expectChannelError(ch, () => { ch.ack(ms[0]!); return sync(ch); }, 406, 'PRECONDITION_FAILED - unknown delivery tag 1');
  });

  it('prefetch credit comes back at commit, not at the ack', async () => {
    const ch = await clients.channel();
    const q = await sharedQueue(ch, 'q-tx-credit', 3);
    await ch.prefetch(1);
    await txSelect(ch);
    const inbox = await consume(ch, q);
    const [first] = await inbox.waitFor(1);
    ch.ack(first!);
    await sync(ch); // a delivery made on the ack would have come before the reply
    expect(inbox.bodies).toEqual(['1']);
    await txCommit(ch);
    await inbox.waitFor(2);
    expect(inbox.bodies).toEqual(['1', '2']);
  });

  it.each([
    ['commit', txCommit],
    ['rollback', txRollback],
  ])('%s without tx.select is 406', async (_what, action) => {
    const ch = await clients.channel();
    await expectChannelError(ch, () => action(ch), 406, 'PRECONDITION_FAILED - channel is not transactional');
  });

  it('tx.select twice is fine: the channel stays transactional and commits', async () => {
    const ch = await clients.channel();
    const { queue } = await ch.assertQueue('', { exclusive: true });
    await txSelect(ch);
    await txSelect(ch);
    ch.sendToQueue(queue, Buffer.from('in tx'));
    expect((await ch.checkQueue(queue)).messageCount).toBe(0);
    await txCommit(ch);
    expect(await drainBodies(ch, queue)).toEqual(['in tx']);
  });
});
