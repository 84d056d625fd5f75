/**
 * The --cluster-* flags: taken out of the CLI's flat option keys into
 * ClusterOptions (null when --cluster-etcd is absent: a single node).
 */
import { hostname } from 'node:os';
import { CLUSTER_DEFAULTS, type ClusterOptions } from './options.js';

/** Flag → [option key, kind], merged into the CLI's flag table. */
export const CLUSTER_FLAGS = {
  'cluster-etcd': ['clusterEtcd', 'string'],
  'cluster-name': ['clusterName', 'string'],
  'node-name': ['nodeName', 'string'],
  'cluster-port': ['clusterPort', 'int'],
  'cluster-advertise': ['clusterAdvertise', 'string'],
  'cluster-secret': ['clusterSecret', 'string'],
  'cluster-lease-ttl': ['clusterLeaseTtl', 'int'],
  'cluster-isr-timeout': ['clusterIsrTimeout', 'int'],
} as const;

export const CLUSTER_USAGE = `  --cluster-etcd <urls>      run as a cluster node coordinated by etcd (comma-separated
                             client URLs, e.g. http://10.0.0.1:2379)
  --cluster-name <name>      cluster name (etcd key prefix; default warren)
  --node-name <name>         this node's name (default host:port)
  --cluster-port <n>         replication listener port (default 5679)
  --cluster-advertise <h:p>  address other nodes reach the replication port at
  --cluster-secret <s>       shared secret of the nodes (default: generated, kept in etcd)
  --cluster-lease-ttl <s>    leader lease TTL in seconds (default 10)
  --cluster-isr-timeout <ms> a silent follower leaves the in-sync set after this (default 3000)
`;

export class ClusterUsageError extends Error {}

/** Removes the cluster keys from `options`; returns the cluster settings or null. */
export function takeClusterOptions(options: Record<string, unknown>): ClusterOptions | null {
  const o: Record<string, unknown> = {};
  for (const [, [key]] of Object.entries(CLUSTER_FLAGS)) {
    o[key] = options[key];
    delete options[key];
  }
  if (o.clusterEtcd === undefined) {
    const stray = Object.entries(CLUSTER_FLAGS).find(([, [key]]) => o[key] !== undefined);
    if (stray) throw new ClusterUsageError(`--${stray[0]} needs --cluster-etcd`);
    return null;
  }
  const etcd = String(o.clusterEtcd).split(',').map((s) => s.trim()).filter(Boolean);
  if (etcd.length === 0 || etcd.some((u) => !/^https?:\/\/[^/]+/.test(u))) throw new ClusterUsageError(`--cluster-etcd expects comma-separated http(s):// URLs, got '${String(o.clusterEtcd)}'`);
  const port = (o.clusterPort as number | undefined) ?? CLUSTER_DEFAULTS.port;
  if (port > 65535) throw new ClusterUsageError(`--cluster-port must be at most 65535, got ${port}`);
  const leaseTtl = (o.clusterLeaseTtl as number | undefined) ?? CLUSTER_DEFAULTS.leaseTtl;
  if (leaseTtl < 1) throw new ClusterUsageError('--cluster-lease-ttl must be at least 1 (second)');
  const host = typeof options.host === 'string' && options.host !== '' && options.host !== '0.0.0.0' && options.host !== '::' ? options.host : hostname();
  const advertise = (o.clusterAdvertise as string | undefined) ?? `${host}:${port}`;
  if (!/^.+:\d+$/.test(advertise)) throw new ClusterUsageError(`--cluster-advertise expects host:port, got '${advertise}'`);
  return {
    etcd,
    name: (o.clusterName as string | undefined) ?? CLUSTER_DEFAULTS.name,
    node: (o.nodeName as string | undefined) ?? `${hostname()}:${(options.port as number | undefined) ?? 5672}`,
    port,
    advertise,
    secret: o.clusterSecret as string | undefined,
    leaseTtl,
    isrTimeout: (o.clusterIsrTimeout as number | undefined) ?? CLUSTER_DEFAULTS.isrTimeout,
  };
}
