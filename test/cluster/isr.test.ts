/**
 * The in-sync set gates durability: with both followers frozen (SIGSTOP), a
 * publisher confirm, a tx.commit-ok and a durable queue.declare-ok wait until
 * the silent followers are out of the ISR — and etcd holds the smaller ISR
 * before any of them is sent. Thawed, the followers catch up and rejoin.
 */
import amqp from 'amqplib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { txCommit, txSelect } from '../helpers/model.js';
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
});
