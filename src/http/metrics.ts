import { Builder, type Labels } from './metrics-builder.js';
import type { ManagementBackend } from './backend.js';
import { RABBITMQ_API_VERSION } from './routes-overview.js';
import { VERSION } from '../version.js';
import { clusterMetrics } from './metrics-cluster.js';
import type { Churn, MessageStats } from '../observe/stats.js';

/**
 * The Prometheus exposition of RabbitMQ's rabbitmq_prometheus plugin: its
 * metric names, types and labels, so dashboards built for RabbitMQ (Grafana's
 * "RabbitMQ-Overview", id 10991) work unchanged. Values are read from the
 * model at scrape time into a fresh prom-client registry.
 *
 * `/metrics` aggregates (no per-object labels, as RabbitMQ's default);
 * `/metrics/per-object` labels queue metrics with vhost/queue and channel
 * metrics with the channel's name.
 */

export { Builder, type Labels } from './metrics-builder.js';

/** Channel counters as RabbitMQ names them (rabbit_prometheus's channel_metrics). */
const CHANNEL_COUNTERS: [string, string, (s: MessageStats) => number][] = [
  ['rabbitmq_channel_messages_published_total', 'Total number of messages published into an exchange on a channel', (s) => s.publish],
  ['rabbitmq_channel_messages_confirmed_total', 'Total number of messages published into an exchange and confirmed on the channel', (s) => s.confirm],
  ['rabbitmq_channel_messages_unroutable_returned_total', 'Total number of messages published as mandatory into an exchange and returned to the publisher as unroutable', (s) => s.return_unroutable],
  ['rabbitmq_channel_messages_unroutable_dropped_total', 'Total number of messages published as non-mandatory into an exchange and dropped as unroutable', (s) => s.drop_unroutable],
  ['rabbitmq_channel_messages_delivered_ack_total', 'Total number of messages delivered to consumers in manual acknowledgement mode', (s) => s.deliver],
  ['rabbitmq_channel_messages_delivered_total', 'Total number of messages delivered to consumers in automatic acknowledgement mode', (s) => s.deliver_no_ack],
  ['rabbitmq_channel_messages_redelivered_total', 'Total number of messages redelivered to consumers', (s) => s.redeliver],
  ['rabbitmq_channel_messages_acked_total', 'Total number of messages acknowledged by consumers', (s) => s.ack],
  ['rabbitmq_channel_get_ack_total', 'Total number of messages fetched with basic.get in manual acknowledgement mode', (s) => s.get],
  ['rabbitmq_channel_get_total', 'Total number of messages fetched with basic.get in automatic acknowledgement mode', (s) => s.get_no_ack],
  ['rabbitmq_channel_get_empty_total', 'Total number of times basic.get operations fetched no message', (s) => s.get_empty],
];

/** rabbitmq_identity_info and rabbitmq_build_info, on every endpoint. */
export function identity(m: Builder, b: ManagementBackend, endpoint: string): void {
  m.gauge('rabbitmq_identity_info', 'RabbitMQ node & cluster identity info', [[{ rabbitmq_node: b.nodeName, rabbitmq_cluster: b.clusterName, rabbitmq_endpoint: endpoint }, 1]]);
  m.gauge('rabbitmq_build_info', 'RabbitMQ & Erlang/OTP version info', [[{ rabbitmq_version: RABBITMQ_API_VERSION, product_version: VERSION, prometheus_plugin_version: VERSION, prometheus_client_version: 'prom-client', erlang_version: process.version }, 1]]);
}

export async function renderMetrics(b: ManagementBackend, perObject: boolean): Promise<{ contentType: string; text: string }> {
  const m = new Builder();
  identity(m, b, perObject ? 'per-object' : 'aggregated');
  clusterMetrics(m, b.clusterView());

  const connections = b.connectionSnapshots().filter((c) => c.user !== null);
  const channels = connections.flatMap((c) => c.channels);
  const vhosts = [...b.vhosts.values()];
  let queueCount = 0;
  let consumers = 0;
  for (const v of vhosts) {
    queueCount += v.queues.size;
    for (const q of v.queues.values()) consumers += q.consumers.length;
  }
  m.gauge('rabbitmq_connections', 'Connections currently open', [[{}, connections.length]]);
  m.gauge('rabbitmq_channels', 'Channels currently open', [[{}, channels.length]]);
  m.gauge('rabbitmq_consumers', 'Consumers currently connected', [[{}, consumers]]);
  m.gauge('rabbitmq_channel_consumers', 'Consumers on a channel', perObject ? channels.map((ch) => [{ channel: ch.name }, ch.consumers.length] as [Labels, number]) : [[{}, channels.reduce((n, ch) => n + ch.consumers.length, 0)]], perObject ? ['channel'] : []);
  m.gauge('rabbitmq_queues', 'Queues available', [[{}, queueCount]]);
  m.counter('rabbitmq_connections_opened_total', 'Total number of connections opened', [[{}, b.connectionsOpened]]);
  const churn = (pick: (c: Churn) => number): [Labels, number][] => [[{}, vhosts.reduce((n, v) => n + pick(v.churn), 0)]];
  m.counter('rabbitmq_channels_opened_total', 'Total number of channels opened', churn((c) => c.channelsOpened));
  m.counter('rabbitmq_channels_closed_total', 'Total number of channels closed', churn((c) => c.channelsClosed));
  m.counter('rabbitmq_queues_declared_total', 'Total number of queues declared', churn((c) => c.queuesDeclared));
  m.counter('rabbitmq_queues_created_total', 'Total number of queues created', churn((c) => c.queuesCreated));
  m.counter('rabbitmq_queues_deleted_total', 'Total number of queues deleted', churn((c) => c.queuesDeleted));
  m.counter('rabbitmq_connections_closed_total', 'Total number of connections closed or terminated', [[{}, b.connectionsClosed]]);

  // Queue gauges: one sample per queue (per-object) or the sum (aggregated).
  const queueSamples = (f: (q: { ready: number; unacked: number; consumers: number; published: number }) => number): [Labels, number][] => {
    const out: [Labels, number][] = [];
    let sum = 0;
    for (const v of vhosts) {
      for (const q of v.queues.values()) {
        const value = f({ ready: q.messageCount, unacked: q.unackedCount, consumers: q.consumers.length, published: q.messageStats.publish });
        if (perObject) out.push([{ vhost: v.name, queue: q.name }, value]);
        sum += value;
      }
    }
    return perObject ? out : [[{}, sum]];
  };
  const queueLabels = perObject ? ['vhost', 'queue'] : [];
  m.gauge('rabbitmq_queue_messages_ready', 'Messages ready to be delivered to consumers', queueSamples((q) => q.ready), queueLabels);
  m.gauge('rabbitmq_queue_messages_unacked', 'Messages delivered to consumers but not yet acknowledged', queueSamples((q) => q.unacked), queueLabels);
  m.gauge('rabbitmq_queue_messages', 'Sum of ready and unacknowledged messages - total queue depth', queueSamples((q) => q.ready + q.unacked), queueLabels);
  m.gauge('rabbitmq_queue_consumers', 'Consumers on a queue', queueSamples((q) => q.consumers), queueLabels);
  m.counter('rabbitmq_queue_messages_published_total', 'Total number of messages published to queues', queueSamples((q) => q.published), queueLabels);

  // Channel counters: per channel (per-object), or totals including closed channels (aggregated).
  const totals = b.statistics.overallTotals();
  for (const [name, help, pick] of CHANNEL_COUNTERS) {
    m.counter(name, help, perObject ? channels.map((ch) => [{ channel: ch.name }, pick(ch.messageStats)] as [Labels, number]) : [[{}, pick(totals)]], perObject ? ['channel'] : []);
  }

  // RabbitMQ 3.13's protocol-wide counters (rabbitmq_global_*), which newer dashboards and tools read.
  const global: [string, string, number][] = [
    ['rabbitmq_global_messages_received_total', 'Total number of messages received from publishers', totals.publish],
    ['rabbitmq_global_messages_routed_total', 'Total number of messages routed to queues or streams', totals.publish - totals.drop_unroutable - totals.return_unroutable],
    ['rabbitmq_global_messages_unroutable_dropped_total', 'Total number of messages published as non-mandatory into an exchange and dropped as unroutable', totals.drop_unroutable],
    ['rabbitmq_global_messages_unroutable_returned_total', 'Total number of messages published as mandatory into an exchange and returned to the publisher as unroutable', totals.return_unroutable],
    ['rabbitmq_global_messages_confirmed_total', 'Total number of messages confirmed to publishers', totals.confirm],
    ['rabbitmq_global_messages_delivered_total', 'Total number of messages delivered to consumers', totals.deliver + totals.deliver_no_ack + totals.get + totals.get_no_ack],
    ['rabbitmq_global_messages_delivered_consume_manual_ack_total', 'Total number of messages delivered to consumers using basic.consume with manual acknowledgment', totals.deliver],
    ['rabbitmq_global_messages_delivered_consume_auto_ack_total', 'Total number of messages delivered to consumers using basic.consume with automatic acknowledgment', totals.deliver_no_ack],
    ['rabbitmq_global_messages_delivered_get_manual_ack_total', 'Total number of messages delivered to consumers using basic.get with manual acknowledgment', totals.get],
    ['rabbitmq_global_messages_delivered_get_auto_ack_total', 'Total number of messages delivered to consumers using basic.get with automatic acknowledgment', totals.get_no_ack],
    ['rabbitmq_global_messages_get_empty_total', 'Total number of times basic.get operations fetched no message', totals.get_empty],
    ['rabbitmq_global_messages_redelivered_total', 'Total number of messages redelivered to consumers', totals.redeliver],
    ['rabbitmq_global_messages_acknowledged_total', 'Total number of message acknowledgements received from consumers', totals.ack],
  ];
  for (const [name, help, value] of global) m.counter(name, help, [[{ protocol: 'amqp091' }, value]]);
  m.gauge('rabbitmq_global_consumers', 'Current number of consumers', [[{ protocol: 'amqp091' }, consumers]]);

  const bytes = (pick: (c: (typeof connections)[number]) => number): [Labels, number][] =>
    perObject ? connections.map((c) => [{ channel: c.name }, pick(c)] as [Labels, number]) : [[{}, connections.reduce((n, c) => n + pick(c), 0)]];
  m.counter('rabbitmq_connection_incoming_bytes_total', 'Total number of bytes received on a connection', bytes((c) => c.recvOct), perObject ? ['channel'] : []);
  m.counter('rabbitmq_connection_outgoing_bytes_total', 'Total number of bytes sent on a connection', bytes((c) => c.sendOct), perObject ? ['channel'] : []);
  m.counter('rabbitmq_connection_incoming_packets_total', 'Total number of packets received on a connection', bytes((c) => c.recvCnt), perObject ? ['channel'] : []);
  m.counter('rabbitmq_connection_outgoing_packets_total', 'Total number of packets sent on a connection', bytes((c) => c.sendCnt), perObject ? ['channel'] : []);

  const f = await b.nodeFacts();
  m.gauge('rabbitmq_process_resident_memory_bytes', 'Memory used in bytes', [[{}, f.memoryUsed]]);
  m.gauge('rabbitmq_resident_memory_limit_bytes', 'Memory high watermark in bytes', [[{}, f.memoryLimit]]);
  m.gauge('rabbitmq_alarms_memory_used_watermark', 'is set to 1 when high memory watermark alarm is in effect', [[{}, f.memoryAlarm ? 1 : 0]]);
  m.gauge('rabbitmq_alarms_free_disk_space_watermark', 'is set to 1 when free disk space alarm is in effect', [[{}, f.diskFreeAlarm ? 1 : 0]]);
  m.gauge('rabbitmq_alarms_file_descriptor_limit', 'is set to 1 when file descriptor limit alarm is in effect', [[{}, 0]]);
  m.gauge('rabbitmq_disk_space_available_bytes', 'Disk space available in bytes', [[{}, f.diskFree]]);
  m.gauge('rabbitmq_disk_space_available_limit_bytes', 'Free disk space low watermark in bytes', [[{}, f.diskFreeLimit]]);
  m.gauge('rabbitmq_process_open_fds', 'Open file descriptors', [[{}, f.fdUsed]]);
  m.gauge('rabbitmq_process_max_fds', 'Open file descriptors limit', [[{}, f.fdTotal]]);
  m.gauge('rabbitmq_process_open_tcp_sockets', 'Open TCP sockets', [[{}, f.socketsUsed]]);
  m.gauge('rabbitmq_process_max_tcp_sockets', 'Open TCP sockets limit', [[{}, f.fdTotal]]);
  m.gauge('rabbitmq_erlang_uptime_seconds', 'Node uptime', [[{}, f.uptimeMs / 1000]]);
  return { contentType: m.registry.contentType, text: await m.registry.metrics() };
}
