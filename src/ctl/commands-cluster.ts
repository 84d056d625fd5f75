import type { Command } from './command.js';
import { banner, printRecord } from './output.js';

type Item = Record<string, unknown>;

/** `warren ctl cluster_status`: every node with its role, in-sync state and replication lag (GET /api/nodes). */
const clusterStatus: Command = {
  name: 'cluster_status',
  args: '',
  summary: 'cluster members: role, in-sync state and replication lag of each node',
  arity: [0, 0],
  async run(ctx) {
    const nodes = (await ctx.api.expect('GET', '/api/nodes')) as Item[];
    const members = nodes.map((n) => ({
      node: n.cluster_node ?? n.name,
      role: n.cluster_role ?? 'standalone',
      in_sync: n.in_sync ?? true,
      connected: n.replication_connected ?? true,
      lag_bytes: n.replication_lag_bytes ?? 0,
      lag_seconds: n.replication_lag_seconds ?? 0,
    }));
    banner(ctx.out, 'Cluster status ...');
    printRecord(ctx.out, { nodes: members }, members.map((m) =>
      `${String(m.node)}: ${String(m.role)}${m.role === 'follower' ? `, ${m.in_sync === true ? 'in sync' : 'not in sync'}, ${m.connected === true ? 'connected' : 'disconnected'}, lag ${String(m.lag_bytes)} bytes / ${String(m.lag_seconds)} s` : ''}`));
  },
};

export const CLUSTER_COMMANDS: readonly Command[] = [clusterStatus];
