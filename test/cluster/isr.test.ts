/**
 * The in-sync set gates durability: with both followers frozen (SIGSTOP), a
 * publisher confirm, a tx.commit-ok and a durable queue.declare-ok wait until
 * the silent followers are out of the ISR — and etcd holds the smaller ISR
 * before any of them is sent. Thawed, the followers catch up and rejoin.
 * A declare-ok held back that way keeps its place on the channel: the
 * replies to methods pipelined after it come after it.
 */
import amqp from 'amqplib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MethodId } from '../../src/protocol/index.js';
import { txCommit, txSelect } from '../helpers/model.js';
import { methodFrame, RawClient } from '../helpers/raw-client.js';
import { TestCluster } from './harness.js';

const ISR_TIMEOUT = 1500;

describe('cluster in-sync set', () => {
  let cluster: TestCluster;

  beforeAll(async () => {
    cluster = await TestCluster.start(3, { leaseTtl: 2, isrTimeout: ISR_TIMEOUT });
    for (const n of cluster.nodes) n.start();
    await cluster.until('three in sync', () => cluster.isr(), (v) => v.length === 3, 60_000);
  }, 60_000);

  afterAll(async () => {
    for (const n of cluster?.nodes ?? []) n.proc?.kill('SIGCONT');
    await cluster?.destroy();
  }, 60_000);

  it('confirm, tx.commit-ok and durable declare-ok wait for silent followers to leave the ISR in etcd first', async () => {
    const leaderName = (await cluster.leaderName())!;
    const leader = cluster.node(leaderName);
    const followers = cluster.nodes.filter((n) => n !== leader);
    const conn = await amqp.connect(leader.url);
    const confirm = await conn.createConfirmChannel();
    const tx = await conn.createChannel();
    await confirm.assertQueue('isr.q', { durable: true });
    await txSelect(tx);

    for (const f of followers) await f.kill('SIGSTOP');
    const stoppedAt = Date.now();
    const isrWhen: Record<string, string[]> = {};
    const at: Record<string, number> = {};
    const record = async (what: string): Promise<void> => {
      at[what] = Date.now() - stoppedAt;
      isrWhen[what] = await cluster.isr();
    };
    const confirmed = new Promise<void>((resolve, reject) => confirm.sendToQueue('isr.q', Buffer.from('c'), { persistent: true }, (err) => (err ? reject(err) : resolve()))).then(() => record('confirm'));
    const committed = (async () => {
      tx.sendToQueue('isr.q', Buffer.from('t'), { persistent: true });
      await txCommit(tx);
      await record('commit');
    })();
    const declared = confirm.assertQueue('isr.q2', { durable: true }).then(() => record('declare'));
    await Promise.all([confirmed, committed, declared]);
    for (const what of ['confirm', 'commit', 'declare']) {
      expect(at[what], what).toBeGreaterThanOrEqual(ISR_TIMEOUT - 100);
      expect(isrWhen[what], what).toEqual([leaderName]);
    }

    for (const f of followers) await f.kill('SIGCONT');
    await cluster.until('three in sync again', () => cluster.isr(), (v) => v.length === 3, 60_000);
    await conn.close();
  }, 60_000);

  it('a durable declare-ok waiting for the ISR is not overtaken by the replies to later methods on its channel', async () => {
    const leaderName = (await cluster.until('a leader', () => cluster.leaderName(), (v) => v !== null))!;
    const leader = cluster.node(leaderName);
    const followers = cluster.nodes.filter((n) => n !== leader);
    const c = await RawClient.open(leader.amqpPort);
    try {
      await c.openChannel(1);
      for (const f of followers) await f.kill('SIGSTOP');
      const sentAt = Date.now();
      c.send(Buffer.concat([
        methodFrame(1, { id: MethodId.QueueDeclare, args: { queue: 'isr.ordered', durable: true } }),
        methodFrame(1, { id: MethodId.BasicQos, args: { prefetchCount: 10 } }),
        methodFrame(1, { id: MethodId.QueueDeclare, args: { queue: '', exclusive: true } }),
        methodFrame(1, { id: MethodId.ExchangeDeclare, args: { exchange: 'isr.ordered.x', type: 'fanout', durable: true } }),
      ]));
      const first = await c.waitFor((f) => f.channel === 1 && f.method !== undefined && f.method.id !== MethodId.ChannelOpenOk, 30_000, 'the first reply');
      const heldMs = Date.now() - sentAt;
      await c.waitForMethod(MethodId.ExchangeDeclareOk, 1, 30_000);
      const replies = c.frames.filter((f) => f.channel === 1 && f.method && f.method.id !== MethodId.ChannelOpenOk).map((f) => f.method!.id);
      expect(replies).toEqual([MethodId.QueueDeclareOk, MethodId.BasicQosOk, MethodId.QueueDeclareOk, MethodId.ExchangeDeclareOk]);
      expect((first.method!.args as { queue: string }).queue).toBe('isr.ordered');
      // It really was held for the silent followers (removed from the ISR after ISR_TIMEOUT).
      expect(heldMs).toBeGreaterThanOrEqual(ISR_TIMEOUT - 100);
    } finally {
      for (const f of followers) await f.kill('SIGCONT');
      c.destroy();
    }
    await cluster.until('three in sync again', () => cluster.isr(), (v) => v.length === 3, 60_000);
  }, 60_000);
});
