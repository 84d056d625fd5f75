/**
 * Three Warren nodes and a real etcd: one leader is elected, the followers
 * catch up and join the in-sync set, clients reach the leader through any
 * node, confirmed messages and definitions are on every node byte for byte,
 * and a node with the wrong cluster secret is refused and logged.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import amqp from 'amqplib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { replicatedFiles } from '../../src/cluster/file-index.js';
import { TestCluster, TestNode } from './harness.js';

const WARREN_BIN = fileURLToPath(new URL('../../bin/warren', import.meta.url));

describe('cluster replication', () => {
  let cluster: TestCluster;

  beforeAll(async () => {
    cluster = await TestCluster.start(3, { secret: 'right-secret' });
    for (const n of cluster.nodes) n.start();
  }, 60_000);

  afterAll(async () => {
    await cluster?.destroy();
  }, 60_000);

  it('elects one leader; the followers join the in-sync set; a follower proxies AMQP to the leader; every node holds the same files', async () => {
    const leader = await cluster.until('a leader', () => cluster.leaderName(), (v) => v !== null);
    const isr = await cluster.until('three in sync', () => cluster.isr(), (v) => v.length === 3);
    expect(isr[0]).toBe(leader);
    expect([...isr].sort()).toEqual(['node0', 'node1', 'node2']);
    for (const n of cluster.nodes) await n.waitForLine((l) => l.msg === `cluster: now ${n.name === leader ? 'leader' : 'follower'}`);

    const follower = cluster.nodes.find((n) => n.name !== leader)!;
    const conn = await amqp.connect(follower.url);
    const ch = await conn.createConfirmChannel();
    await ch.assertExchange('orders', 'direct', { durable: true });
    await ch.assertQueue('orders.q', { durable: true });
    await ch.bindQueue('orders.q', 'orders', 'new');
    for (let i = 0; i < 500; i++) ch.publish('orders', 'new', Buffer.from(`order ${i}`), { persistent: true, messageId: String(i) });
    await ch.waitForConfirms();
    const q = await ch.checkQueue('orders.q');
    expect(q.messageCount).toBe(500);
    await conn.close();

    // Confirmed means every in-sync follower wrote it: the files are equal now.
    const leaderNode = cluster.node(leader!);
    const files = replicatedFiles(leaderNode.dataDir);
    expect(files).toContain('definitions.log');
    expect(files.some((f) => f.startsWith('messages/'))).toBe(true);
    for (const other of cluster.nodes.filter((n) => n !== leaderNode)) {
      expect(replicatedFiles(other.dataDir)).toEqual(files);
      for (const f of files) expect(readFileSync(join(other.dataDir, f)).equals(readFileSync(join(leaderNode.dataDir, f))), `${other.name} ${f}`).toBe(true);
    }
    const defs = readFileSync(join(leaderNode.dataDir, 'definitions.log'), 'utf8');
    expect(defs).toContain('orders.q');
  }, 60_000);

  it('lists every node with role, in-sync state and lag in /api/nodes (through any node), warren ctl cluster_status and warren_cluster_* metrics', async () => {
    const leader = (await cluster.leaderName())!;
    const follower = cluster.nodes.find((n) => n.name !== leader)!;
    const auth = `Basic ${Buffer.from('guest:guest').toString('base64')}`;
    const res = await fetch(`http://127.0.0.1:${follower.httpPort}/api/nodes`, { headers: { authorization: auth } });
    expect(res.status).toBe(200);
    const nodes = (await res.json()) as Record<string, unknown>[];
    const byNode = new Map(nodes.map((n) => [n.cluster_node, n]));
    expect([...byNode.keys()].sort()).toEqual(['node0', 'node1', 'node2']);
    expect(byNode.get(leader)!.cluster_role).toBe('leader');
    expect(typeof byNode.get(leader)!.mem_used).toBe('number');
    for (const n of cluster.nodes.filter((x) => x.name !== leader)) {
      const v = byNode.get(n.name)!;
      expect(v).toMatchObject({ cluster_role: 'follower', in_sync: true, replication_connected: true, running: true });
      expect(typeof v.replication_lag_bytes).toBe('number');
      expect(typeof v.replication_lag_seconds).toBe('number');
    }

    const ctl = spawnSync(process.execPath, [WARREN_BIN, 'ctl', 'cluster_status', '--url', `http://127.0.0.1:${follower.httpPort}`], { encoding: 'utf8' });
    expect(ctl.status).toBe(0);
    expect(ctl.stdout).toContain(`${leader}: leader`);
    expect(ctl.stdout).toContain(`${follower.name}: follower, in sync, connected`);

    const metrics = await (await fetch(`http://127.0.0.1:${cluster.node(leader).metricsPort}/metrics`)).text();
    expect(metrics).toMatch(/^warren_cluster_nodes 3$/m);
    expect(metrics).toMatch(/^warren_cluster_in_sync_nodes 3$/m);
    expect(metrics).toContain(`warren_cluster_follower_in_sync{node="${follower.name}"} 1`);
    expect(metrics).toMatch(new RegExp(`^warren_cluster_replication_lag_bytes\\{node="${follower.name}"\\} \\d+$`, 'm'));
  }, 60_000);

  it('refuses a node with the wrong cluster secret, and logs it', async () => {
    const leader = cluster.node((await cluster.leaderName())!);
    const from = leader.lines.length;
    const base = cluster.nodes[0]!;
    const intruder = new TestNode('intruder', 0, 0, 0, `${base.dataDir}-intruder`, 0, () => [
      '--host', '127.0.0.1', '--port', '0', '--management-port', '0', '--no-prometheus', '--data-dir', `${base.dataDir}-intruder`,
      '--cluster-etcd', cluster.etcd.endpoint, '--node-name', 'intruder', '--cluster-port', '1', '--cluster-advertise', '127.0.0.1:1',
      '--cluster-lease-ttl', '2', '--cluster-secret', 'wrong-secret',
    ]);
    cluster.nodes.push(intruder);
    intruder.start();
    const refused = await leader.waitForLine((l) => l.msg === 'replication: follower refused (wrong cluster secret)', 30_000, from);
    expect(refused.node).toBe('intruder');
    const dropped = await intruder.waitForLine((l) => l.msg === 'replication: connection to the leader dropped');
    expect(String(dropped.err)).toContain('wrong cluster secret');
    expect(await cluster.isr()).not.toContain('intruder');
  }, 60_000);
});
