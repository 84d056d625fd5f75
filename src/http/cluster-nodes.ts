/**
 * /api/nodes on a cluster leader: the leader's own entry (with its node
 * facts) plus one entry per follower, each with its role, in-sync state and
 * replication lag. Followers proxy the management API to the leader, so any
 * node answers with the same list.
 */
import type { ClusterView } from './backend.js';
import type { Item } from './list.js';

export function clusterNodeViews(self: Item, cluster: ClusterView | null): Item[] {
  if (!cluster) return [self];
  const out: Item[] = [];
  for (const m of cluster.members) {
    const fields = {
      cluster_node: m.node,
      cluster_role: m.role,
      in_sync: m.inSync,
      replication_connected: m.connected,
      replication_lag_bytes: m.lagBytes,
      replication_lag_seconds: m.lagSeconds,
    };
    if (m.role === 'leader') out.push({ ...self, ...fields });
    else out.push({ name: m.node, type: 'disc', running: m.connected, ...fields });
  }
  return out;
}
