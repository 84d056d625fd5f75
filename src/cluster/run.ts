/** `warren --cluster-etcd …`: runs this process as a cluster node until SIGINT/SIGTERM. */
import type { BrokerOptions } from '../config.js';
import { createLogger } from '../observe/logger.js';
import { ClusterNode } from './node.js';
import type { ClusterOptions } from './options.js';

export async function runClusterNode(options: BrokerOptions & { dataDir: string; port: number }, cluster: ClusterOptions): Promise<void> {
  const logger = createLogger({ level: options.logLevel ?? 'info', pretty: options.logPretty });
  let node: ClusterNode | null = null;
  let stopping = false;
  const shutdown = (signal: string): void => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, 'shutdown requested');
    if (!node) process.exit(0);
    node.stop().then(
      () => process.exit(0),
      (err: unknown) => {
        logger.error({ err }, 'error during shutdown');
        process.exit(1);
      },
    );
  };
  process.on('SIGINT', () => shutdown('SIGINT'));
  process.on('SIGTERM', () => shutdown('SIGTERM'));
  try {
    node = await ClusterNode.start(options, cluster, logger);
  } catch (err) {
    logger.fatal({ err }, 'cluster node could not start');
    process.exit(1);
  }
  node.onFatal = () => process.exit(1);
  if (stopping) shutdown('signal during start');
}
