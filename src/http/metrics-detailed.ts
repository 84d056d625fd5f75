import type { Queue } from '../broker/queue.js';
import type { ManagementBackend } from './backend.js';
import { Builder, identity, type Labels } from './metrics.js';

/**
 * RabbitMQ's /metrics/detailed: only the metric families asked for
 * (`family=`, repeatable) and only the vhosts asked for (`vhost=`, repeatable;
 * all when absent), with per-object labels and RabbitMQ's
 * `rabbitmq_detailed_` names. Families Warren does not know are left out, as
 * RabbitMQ leaves out unknown ones.
 */
const QUEUE_LABELS = ['vhost', 'queue'];

export async function renderDetailed(b: ManagementBackend, families: ReadonlySet<string>, vhostFilter: ReadonlySet<string> | null): Promise<{ contentType: string; text: string }> {
  const m = new Builder();
  identity(m, b, 'detailed');
  const vhosts = [...b.vhosts.values()].filter((v) => vhostFilter === null || vhostFilter.has(v.name));
  const perQueue = (f: (q: Queue) => number): [Labels, number][] =>
    vhosts.flatMap((v) => [...v.queues.values()].map((q) => [{ vhost: v.name, queue: q.name }, f(q)] as [Labels, number]));

  if (families.has('queue_coarse_metrics')) {
    m.gauge('rabbitmq_detailed_queue_messages_ready', 'Messages ready to be delivered to consumers', perQueue((q) => q.messageCount), QUEUE_LABELS);
    m.gauge('rabbitmq_detailed_queue_messages_unacked', 'Messages delivered to consumers but not yet acknowledged', perQueue((q) => q.unackedCount), QUEUE_LABELS);
    m.gauge('rabbitmq_detailed_queue_messages', 'Sum of ready and unacknowledged messages - total queue depth', perQueue((q) => q.messageCount + q.unackedCount), QUEUE_LABELS);
  }
  if (families.has('queue_consumer_count')) {
    m.gauge('rabbitmq_detailed_queue_consumers', 'Consumers on a queue', perQueue((q) => q.consumers.length), QUEUE_LABELS);
  }
  if (families.has('queue_metrics')) {
    m.gauge('rabbitmq_detailed_queue_messages_ready_bytes', 'Size in bytes of ready messages', perQueue((q) => q.usage().messageBytesReady), QUEUE_LABELS);
    m.gauge('rabbitmq_detailed_queue_messages_unacked_bytes', 'Size in bytes of all messages delivered but not yet acknowledged', perQueue((q) => q.usage().messageBytesUnacknowledged), QUEUE_LABELS);
    m.gauge('rabbitmq_detailed_queue_messages_bytes', 'Size in bytes of ready and unacknowledged messages', perQueue((q) => q.usage().messageBytes), QUEUE_LABELS);
    m.gauge('rabbitmq_detailed_queue_messages_paged_out', 'Messages paged out to disk', perQueue((q) => q.usage().messagesPagedOut), QUEUE_LABELS);
    m.counter('rabbitmq_detailed_queue_messages_published_total', 'Total number of messages published to queues', perQueue((q) => q.messageStats.publish), QUEUE_LABELS);
  }
  if (families.has('connection_coarse_metrics')) {
    const names = new Set(vhosts.map((v) => v.name));
    const conns = b.connectionSnapshots().filter((c) => c.vhost !== null && names.has(c.vhost));
    m.counter('rabbitmq_detailed_connection_incoming_bytes_total', 'Total number of bytes received on a connection', conns.map((c) => [{ channel: c.name }, c.recvOct] as [Labels, number]), ['channel']);
    m.counter('rabbitmq_detailed_connection_outgoing_bytes_total', 'Total number of bytes sent on a connection', conns.map((c) => [{ channel: c.name }, c.sendOct] as [Labels, number]), ['channel']);
  }
  if (families.has('vhost_status')) {
    m.gauge('rabbitmq_detailed_vhost_status', 'Whether a given vhost is running', vhosts.map((v) => [{ vhost: v.name }, 1] as [Labels, number]), ['vhost']);
  }
  return { contentType: m.registry.contentType, text: await m.registry.metrics() };
}
