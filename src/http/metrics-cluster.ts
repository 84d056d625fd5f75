/** warren_cluster_* metrics, on a cluster leader (none on a single node). */
import type { ClusterView } from './backend.js';
import type { Builder } from './metrics-builder.js';

export function clusterMetrics(m: Builder, cluster: ClusterView | null): void {
  if (!cluster) return;
  const followers = cluster.members.filter((x) => x.role === 'follower');
  m.gauge('warren_cluster_nodes', 'Nodes the cluster leader knows (itself included)', [[{}, cluster.members.length]]);
  m.gauge('warren_cluster_in_sync_nodes', 'Nodes in the in-sync set (the leader included)', [[{}, cluster.members.filter((x) => x.inSync).length]]);
  m.gauge('warren_cluster_follower_in_sync', '1 when the follower is in the in-sync set', followers.map((f) => [{ node: f.node }, f.inSync ? 1 : 0]), ['node']);
  m.gauge('warren_cluster_follower_connected', '1 when the follower is connected to the replication port', followers.map((f) => [{ node: f.node }, f.connected ? 1 : 0]), ['node']);
  m.gauge('warren_cluster_replication_lag_bytes', 'Bytes sent to the follower and not yet acknowledged', followers.map((f) => [{ node: f.node }, f.lagBytes]), ['node']);
  m.gauge('warren_cluster_replication_lag_seconds', 'Age of the oldest change the follower has not acknowledged', followers.map((f) => [{ node: f.node }, f.lagSeconds]), ['node']);
}
