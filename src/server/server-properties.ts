import { hostname } from 'node:os';
import type { FieldTable } from '../protocol/index.js';
import { VERSION } from '../version.js';

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

export function serverProperties(clusterName: string | undefined): FieldTable {
  return {
    product: 'Warren',
    version: VERSION,
    platform: `Node.js ${process.version}`,
    cluster_name: clusterName ?? `warren@${hostname()}`,
    copyright: 'Copyright (c) the Warren authors',
    information: 'Licensed under the MIT License. An AMQP 0-9-1 broker for Node.js.',
    capabilities: CAPABILITIES,
  };
}
