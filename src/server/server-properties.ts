import { hostname } from 'node:os';
import type { FieldTable } from '../protocol/index.js';
import { RABBITMQ_COMPATIBLE_VERSION, VERSION } from '../version.js';

/**
 * What the broker tells clients in connection.start. Capabilities are
 * advertised only once the broker really implements them: clients switch
 * behaviour on these flags.
 */
export const CAPABILITIES: FieldTable = {
  publisher_confirms: true,
  exchange_exchange_bindings: true,
  'basic.nack': true,
  consumer_cancel_notify: true,
  authentication_failure_close: true,
  per_consumer_qos: true,
  // Memory alarm: publishers are sent connection.blocked / connection.unblocked.
  'connection.blocked': true,
  consumer_priorities: true,
  direct_reply_to: true,
};

/**
 * Clients switch behaviour on `product` and `version`: kombu (Celery) gives
 * basic.qos's `global` flag RabbitMQ's meaning only when product is
 * "RabbitMQ" (otherwise a worker that raises its prefetch never gets more
 * messages), and amqp091-go and others key RabbitMQ behaviours on the same
 * property. Warren implements RabbitMQ's semantics, so by default it says
 * so, with the version of the release it follows; its own name and version
 * travel in platform, information and warren_version. `productName`
 * (--product-name) overrides the product.
 */
export function serverProperties(clusterName: string | undefined, productName: string): FieldTable {
  return {
    product: productName,
    version: RABBITMQ_COMPATIBLE_VERSION,
    platform: `Warren ${VERSION} on Node.js ${process.version}`,
    warren_version: VERSION,
    cluster_name: clusterName ?? `warren@${hostname()}`,
    copyright: 'Copyright (c) the Warren authors',
    information: `Warren ${VERSION}, an AMQP 0-9-1 broker for Node.js following RabbitMQ ${RABBITMQ_COMPATIBLE_VERSION} behaviour. Licensed under the MIT License.`,
    capabilities: CAPABILITIES,
  };
}
