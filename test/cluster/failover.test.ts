/**
 * Failover under load: three nodes, real etcd (lease TTL 2 s), a publisher
 * with confirms and an acking consumer running throughout while the leader is
 * SIGKILLed (5 rounds), SIGSTOPped past its lease, a follower is killed and
 * restarted, and etcd is stopped for a while. At the end every confirmed
 * message is found exactly once (or was consumed), no durably acked message
 * came back, and every node holds the same files.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import amqp from 'amqplib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { replicatedFiles } from '../../src/cluster/file-index.js';
import { TestCluster, type TestNode } from './harness.js';
import { drain, Workload } from './workload.js';

describe('cluster failover', () => {
  let cluster: TestCluster;
  let work: Workload;
  const failovers: number[] = [];

  beforeAll(async () => {
    cluster = await TestCluster.start(3, { leaseTtl: 2, isrTimeout: 2000 });
    for (const n of cluster.nodes) n.start();
    await cluster.until('three in sync', () => cluster.isr(), (v) => v.length === 3);
    work = new Workload(cluster);
    work.start();
    await work.confirmMore(200);
  }, 60_000);

  afterAll(async () => {
    await work?.stop().catch(() => undefined);
    await cluster?.destroy();
    if (failovers.length) console.log(`failover times (lease TTL 2 s): ${failovers.join(', ')} ms`);
  }, 60_000);

  const leaderNode = async (): Promise<TestNode> => cluster.node((await cluster.until('a leader', () => cluster.leaderName(), (v) => v !== null))!);
  const allInSync = (): Promise<string[]> => cluster.until('three in sync', () => cluster.isr(), (v) => v.length === 3, 60_000);

  /** Waits until a node other than `old` leads and logs that it serves; returns ms since `since`. */
  const newLeaderServing = async (old: string, since: number): Promise<number> => {
    const name = (await cluster.until('a new leader', () => cluster.leaderName(), (v) => v !== null && v !== old, 30_000))!;
    const n = cluster.node(name);
    await n.waitForLine((l) => l.msg === 'cluster: now leader' && (l.time as number) >= since, 30_000);
    return Date.now() - since;
  };

  it('survives five SIGKILLs of the leader; confirms resume each time', async () => {
    for (let round = 0; round < 5; round++) {
      const leader = await leaderNode();
      await work.confirmMore(50);
      const killedAt = Date.now();
      await leader.kill('SIGKILL');
      failovers.push(await newLeaderServing(leader.name, killedAt));
      await work.confirmMore(50);
      leader.start();
      await allInSync();
    }
    expect(failovers).toHaveLength(5);
    for (const ms of failovers) expect(ms).toBeLessThan(15_000);
  }, 180_000);

  it('a leader SIGSTOPped past its lease confirms nothing after it resumes and closes its clients with 320', async () => {
    const leader = await leaderNode();
    const conn = await amqp.connect(leader.url);
    conn.on('error', () => undefined);
    const closed = new Promise<{ code?: number }>((resolve) => conn.on('close', (err?: { code?: number }) => resolve(err ?? {})));
    const ch = await conn.createConfirmChannel();
    ch.on('error', () => undefined);
    const direct: { id: number; at: number }[] = [];
    let n = 0;
    let publishing = true;
    const pump = (async () => {
      while (publishing) {
        const id = 1_000_000 + n++;
        await new Promise<void>((resolve) => {
          try {
            ch.sendToQueue('work', Buffer.from(String(id)), { persistent: true }, (err) => {
              if (!err) {
                direct.push({ id, at: Date.now() });
                work.confirmed.add(id);
              }
              resolve();
            });
          } catch {
            publishing = false;
            resolve();
          }
        });
      }
    })();
    while (direct.length < 20) await new Promise((r) => setTimeout(r, 20)); // confirms flow before the stop
    const stoppedAt = Date.now();
    await leader.kill('SIGSTOP');
    await newLeaderServing(leader.name, stoppedAt);
    const resumedAt = Date.now();
    await leader.kill('SIGCONT');
    const err = await closed;
    publishing = false;
    await Promise.race([pump, new Promise((r) => setTimeout(r, 1000))]);
    expect(err.code).toBe(320);
    expect(direct.filter((d) => d.at >= resumedAt)).toEqual([]);
    await leader.waitForLine((l) => l.msg === 'cluster: now follower' && (l.time as number) >= resumedAt, 30_000);
    await allInSync();
    await work.confirmMore(50);
  }, 120_000);

  it('a killed follower restarts, catches up and rejoins the in-sync set', async () => {
    const leader = await leaderNode();
    const follower = cluster.nodes.find((n) => n.name !== leader.name && n.running)!;
    await follower.kill('SIGKILL');
    await cluster.until('follower dropped from the ISR', () => cluster.isr(), (v) => !v.includes(follower.name), 30_000);
    await work.confirmMore(100); // written while it is away
    const from = follower.lines.length;
    follower.start();
    await follower.waitForLine((l) => l.msg === 'cluster: following', 30_000, from);
    expect(await allInSync()).toContain(follower.name);
  }, 120_000);

  it('while etcd is down nothing is confirmed; confirms resume when it is back', async () => {
    await work.confirmMore(50);
    await cluster.etcd.stop();
    // The leader stops confirming within half a lease of etcd's last answer; give it a full lease.
    await new Promise((r) => setTimeout(r, cluster.leaseTtl * 1000));
    const during = work.confirmed.size;
    const stalledFrom = Date.now();
    await new Promise((r) => setTimeout(r, 1500)); // an observation window: nothing may be confirmed in it
    expect(work.confirmed.size).toBe(during);
    expect(work.confirmTimes.filter((t) => t >= stalledFrom)).toEqual([]);
    await cluster.etcd.restart();
    await work.confirmMore(50, 60_000);
  }, 120_000);

  it('every confirmed message is there exactly once or was consumed; no durably acked message came back; all nodes hold the same files', async () => {
    await allInSync();
    await work.stop();
    const leader = await leaderNode();
    const left = await drain(leader.url);
    const leftIds = left.map((m) => m.id);
    expect(new Set(leftIds).size).toBe(leftIds.length); // no duplicates in the queue
    const delivered = new Set(work.deliveries.map((d) => d.id));
    const missing = [...work.confirmed].filter((id) => !delivered.has(id) && !leftIds.includes(id));
    expect(missing).toEqual([]);
    expect(leftIds.filter((id) => work.durablyAcked.has(id))).toEqual([]);
    expect(work.resurrected).toEqual([]);
    expect(work.durablyAcked.size).toBeGreaterThan(0);
    // Messages came back after failovers (unacked, or acked but not durably yet), flagged or not.
    expect(work.deliveries.length).toBeGreaterThanOrEqual(delivered.size);

    // A confirm covers everything before it on every in-sync node: then the files are equal.
    const conn = await amqp.connect(leader.url);
    const ch = await conn.createConfirmChannel();
    ch.sendToQueue('work', Buffer.from('last'), { persistent: true });
    await ch.waitForConfirms();
    await conn.close();
    const files = replicatedFiles(leader.dataDir);
    for (const other of cluster.nodes.filter((n) => n !== leader)) {
      expect(replicatedFiles(other.dataDir)).toEqual(files);
      for (const f of files) expect(readFileSync(join(other.dataDir, f)).equals(readFileSync(join(leader.dataDir, f))), `${other.name}: ${f}`).toBe(true);
    }
  }, 120_000);
});
