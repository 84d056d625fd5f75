import type { Exchange, Binding } from '../broker/exchange.js';
import type { Queue } from '../broker/queue.js';
import type { Statistics } from '../broker/statistics.js';
import type { VirtualHost } from '../broker/virtual-host.js';
import type { ChannelSnapshot, ConnectionSnapshot, ConsumerSnapshot } from '../server/snapshot.js';
import { CHANNEL_STAT_KEYS, EXCHANGE_STAT_KEYS, QUEUE_STAT_KEYS, fieldTableToJson, idleSince, messageStatsJson, round } from './format.js';
import { jsonText } from './json-text.js';
import type { Item } from './list.js';

/**
 * The JSON objects of RabbitMQ's management API, built from the model's
 * read-only views (field names and types as rabbit_mgmt_format writes them).
 */

export function queueView(q: Queue, vhost: string, node: string): Item {
  // Public counters and usage() directly (stats() copies the arguments table: too slow for 10,000 queues).
  const u = q.usage();
  const ready = q.messageCount;
  const unacked = q.unackedCount;
  const consumers = q.consumers.length;
  const utilisation = consumers === 0 ? null : q.consumers.some(hasCredit) ? 1.0 : 0.0;
  const item: Item = {
    name: q.name,
    vhost,
    durable: q.durable,
    auto_delete: q.autoDelete,
    exclusive: q.exclusiveOwner !== null,
    arguments: fieldTableToJson(q.arguments),
    type: q.policy.type,
    node,
    state: 'running',
    policy: q.appliedPolicy.policy,
    operator_policy: q.appliedPolicy.operatorPolicy,
    effective_policy_definition: { ...q.appliedPolicy.effective },
    exclusive_consumer_tag: q.hasExclusiveConsumer ? q.consumers[0]!.tag : null,
    single_active_consumer_tag: q.policy.singleActiveConsumer && consumers > 0 ? q.consumers[0]!.tag : null,
    consumers,
    consumer_capacity: utilisation ?? 0,
    consumer_utilisation: utilisation,
    memory: 0,
    messages: ready + unacked,
    messages_details: { rate: round(q.messageStats.readyRate + q.messageStats.unackedRate) },
    messages_ready: ready,
    messages_ready_details: { rate: round(q.messageStats.readyRate) },
    messages_unacknowledged: unacked,
    messages_unacknowledged_details: { rate: round(q.messageStats.unackedRate) },
    messages_ram: ready - u.messagesPagedOut + unacked,
    messages_paged_out: u.messagesPagedOut,
    message_bytes: u.messageBytes,
    message_bytes_ready: u.messageBytesReady,
    message_bytes_unacknowledged: u.messageBytesUnacknowledged,
    message_bytes_ram: u.messageBytes,
    message_bytes_paged_out: 0,
    head_message_timestamp: u.headMessageTimestamp,
    reductions: 0,
    idle_since: consumers === 0 ? idleSince(u.lastUsedAt) : undefined,
    message_stats: q.messageStats.active ? messageStatsJson(q.messageStats, QUEUE_STAT_KEYS) : undefined,
  };
  return item;
}

const hasCredit = (c: Queue['consumers'][number]): boolean => c.hasCredit();

export function exchangeView(x: Exchange, vhost: string): Item {
  const item: Item = {
    name: x.name,
    vhost,
    type: x.type,
    durable: x.durable,
    auto_delete: x.autoDelete,
    internal: x.internal,
    arguments: fieldTableToJson(x.arguments),
    user_who_performed_action: 'rmq-internal',
    policy: x.policy,
  };
  if (x.messageStats.active) item.message_stats = messageStatsJson(x.messageStats, EXCHANGE_STAT_KEYS);
  return item;
}

/**
 * A binding's properties key, as RabbitMQ computes it (rabbit_mgmt_format:
 * pack_binding_props): "~" for an empty routing key without arguments, the
 * routing key (URL-quoted) otherwise, plus "~" and a hash of the arguments.
 */
export function propertiesKey(routingKey: string, args: Record<string, unknown>): string {
  const hasArgs = Object.keys(args).length > 0;
  if (!hasArgs) return routingKey === '' ? '~' : quote(routingKey);
  return `${quote(routingKey)}~${argsHash(args)}`;
}

function quote(s: string): string {
  return encodeURIComponent(s).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}

/** A short, stable hash of binding arguments (RabbitMQ hashes the Erlang term; any stable digest serves). */
function argsHash(args: Record<string, unknown>): string {
  const text = jsonText(Object.keys(args).sort().map((k) => [k, args[k]]));
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 0x01000193) >>> 0;
  return Buffer.from(h.toString(16).padStart(8, '0'), 'hex').toString('base64url');
}

export function bindingView(b: Binding, vhost: string): Item {
  const args = fieldTableToJson(b.arguments);
  return {
    source: b.source.name,
    vhost,
    destination: b.destination.name,
    destination_type: b.destination.kind,
    routing_key: b.routingKey,
    arguments: args,
    properties_key: propertiesKey(b.routingKey, args),
  };
}

/** The default exchange's implicit binding of a queue (RabbitMQ lists it first). */
export function defaultBindingView(q: Queue, vhost: string): Item {
  return { source: '', vhost, destination: q.name, destination_type: 'queue', routing_key: q.name, arguments: {}, properties_key: propertiesKey(q.name, {}) };
}

/** Every binding of a vhost, the implicit default-exchange ones first. */
export function vhostBindings(vhost: VirtualHost): Item[] {
  const out: Item[] = [];
  for (const q of vhost.queues.values()) out.push(defaultBindingView(q, vhost.name));
  for (const b of vhost.allBindings()) out.push(bindingView(b, vhost.name));
  return out;
}

function clientPropertiesJson(c: ConnectionSnapshot): Record<string, unknown> {
  return fieldTableToJson(c.clientProperties);
}

export function connectionView(c: ConnectionSnapshot, node: string, stats: Statistics): Item {
  const rates = stats.byteRates(c.id);
  const props = clientPropertiesJson(c);
  const item: Item = {
    name: c.name,
    node,
    type: 'network',
    state: c.state,
    user: c.user ?? '',
    user_who_performed_action: c.user ?? '',
    vhost: c.vhost ?? '/',
    protocol: 'AMQP 0-9-1',
    auth_mechanism: c.authMechanism,
    host: c.host,
    port: c.port,
    peer_host: c.peerHost,
    peer_port: c.peerPort,
    ssl: c.tls !== null,
    ssl_protocol: c.tls?.protocol ?? null,
    ssl_key_exchange: null,
    ssl_cipher: c.tls?.cipher ?? null,
    ssl_hash: null,
    peer_cert_subject: c.tls?.peerCertSubject ?? null,
    peer_cert_issuer: c.tls?.peerCertIssuer ?? null,
    peer_cert_validity: c.tls?.peerCertValidity ?? null,
    timeout: c.heartbeat,
    frame_max: c.frameMax,
    channel_max: c.channelMax,
    channels: c.channels.length,
    client_properties: props,
    connected_at: c.connectedAt,
    recv_oct: c.recvOct,
    recv_oct_details: { rate: round(rates.recv) },
    send_oct: c.sendOct,
    send_oct_details: { rate: round(rates.send) },
    recv_cnt: c.recvCnt,
    send_cnt: c.sendCnt,
    send_pend: c.sendPend,
    reductions: 0,
    garbage_collection: {},
  };
  const provided = props.connection_name;
  if (typeof provided === 'string') item.user_provided_name = provided;
  return item;
}

export function channelView(ch: ChannelSnapshot, node: string): Item {
  const item: Item = {
    name: ch.name,
    number: ch.number,
    node,
    user: ch.user,
    user_who_performed_action: ch.user,
    vhost: ch.vhost,
    state: ch.state,
    connection_details: { name: ch.connectionName, peer_host: ch.peerHost, peer_port: ch.peerPort },
    consumer_count: ch.consumers.length,
    messages_unacknowledged: ch.unacked,
    messages_unconfirmed: ch.unconfirmed,
    messages_uncommitted: ch.uncommittedMessages,
    acks_uncommitted: ch.uncommittedAcks,
    prefetch_count: ch.prefetchCount,
    global_prefetch_count: ch.globalPrefetchCount,
    confirm: ch.confirm,
    transactional: ch.transactional,
    pending_raft_commands: 0,
    reductions: 0,
    garbage_collection: {},
  };
  if (ch.messageStats.active) item.message_stats = messageStatsJson(ch.messageStats, CHANNEL_STAT_KEYS);
  return item;
}

export function consumerView(c: ConsumerSnapshot, ch: ChannelSnapshot, node: string, consumerTimeout: number): Item {
  return {
    consumer_tag: c.tag,
    channel_details: { name: ch.name, number: ch.number, node, connection_name: ch.connectionName, peer_host: ch.peerHost, peer_port: ch.peerPort, user: ch.user },
    queue: { name: c.queue, vhost: c.vhost },
    ack_required: c.ackRequired,
    exclusive: c.exclusive,
    prefetch_count: c.prefetchCount,
    arguments: fieldTableToJson(c.arguments),
    active: true,
    activity_status: 'up',
    consumer_timeout: consumerTimeout,
  };
}
