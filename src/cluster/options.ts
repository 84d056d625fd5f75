/** Cluster settings (the --cluster-* flags). */
export interface ClusterOptions {
  /** etcd client URLs. */
  etcd: string[];
  /** Names the cluster's keys in etcd (default "warren"). */
  name: string;
  /** This node's name (default host:port). */
  node: string;
  /** Replication listener port (default 5679). */
  port: number;
  /** host:port the other nodes reach this node's replication listener at (default host:port of the listener). */
  advertise: string;
  /** Shared secret followers present; generated and stored in etcd when absent. */
  secret?: string;
  /** Leader lease TTL in seconds (default 10). */
  leaseTtl: number;
  /** A follower silent this long (ms) leaves the in-sync set (default 3000). */
  isrTimeout: number;
}

export const CLUSTER_DEFAULTS = { name: 'warren', port: 5679, leaseTtl: 10, isrTimeout: 3000 } as const;
