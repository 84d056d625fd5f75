/**
 * The model's read side: plain, immutable-by-copy descriptions of queues,
 * exchanges, bindings and messages. The HTTP API, metrics, `warren ctl` and
 * tests look at the model only through these (see DESIGN.md, "Read side");
 * building one never changes what it describes (no delivery, no redelivered
 * flag, no x-expires renewal).
 */
import { mapFieldTree, type BasicProperties, type FieldTable } from '../protocol/index.js';

/** One queue, as `rabbitmqctl list_queues` would show it. */
export interface QueueStats {
  name: string;
  durable: boolean;
  exclusive: boolean;
  autoDelete: boolean;
  arguments: FieldTable;
  /** Ready plus unacknowledged. */
  messages: number;
  messagesReady: number;
  messagesUnacknowledged: number;
  consumers: number;
}

/** A queue's bytes, paging and activity (`queue.usage()`, for the management API and metrics). */
export interface QueueUsage {
  /** Body bytes, as RabbitMQ's message_bytes (ready + unacknowledged). */
  messageBytes: number;
  messageBytesReady: number;
  messageBytesUnacknowledged: number;
  /** Ready messages held on disk only. */
  messagesPagedOut: number;
  /** Consumers that get deliveries (1 at most with single-active-consumer). */
  activeConsumers: number;
  /** When the queue was last used (consume, cancel, get, declare), ms since the epoch. */
  lastUsedAt: number;
  /** The timestamp property of the head message (seconds), if it has one. */
  headMessageTimestamp: number | null;
}

export interface ExchangeStats {
  name: string;
  type: string;
  durable: boolean;
  autoDelete: boolean;
  internal: boolean;
  arguments: FieldTable;
}

/** A binding; the default exchange's implicit binding to each queue is listed too (source ''), as RabbitMQ lists it. */
export interface BindingStats {
  source: string;
  destination: string;
  destinationType: 'queue' | 'exchange';
  routingKey: string;
  arguments: FieldTable;
}

export interface VhostSnapshot {
  name: string;
  /** Channels open in the vhost now. */
  channels: number;
  queues: QueueStats[];
  exchanges: ExchangeStats[];
  bindings: BindingStats[];
}

/** A ready message, looked at in place (`broker.peek()`). */
export interface PeekedMessage {
  exchange: string;
  routingKey: string;
  /** Whether its next delivery will carry redelivered = true. */
  redelivered: boolean;
  properties: BasicProperties;
  /** A copy of the body (the broker's own bytes are never handed out). */
  body: Buffer;
}

/** A deep copy of a field table, so a snapshot never aliases the model's own objects. */
export function copyTable(table: FieldTable): FieldTable {
  return structuredCopy(table) as FieldTable;
}

export function copyProperties(properties: BasicProperties): BasicProperties {
  return structuredCopy(properties) as BasicProperties;
}

const isPlainObject = (value: object): boolean => Object.getPrototypeOf(value) === Object.prototype;

function copyLeaf(value: unknown): unknown {
  if (Buffer.isBuffer(value)) return Buffer.from(value);
  if (value instanceof Date) return new Date(value.getTime());
  // Primitives, and the codec's small immutable value classes (Decimal, Typed).
  return value;
}

/** Copies plain objects and arrays at any depth (a client may nest tables deeper than the call stack goes). */
function structuredCopy(value: unknown): unknown {
  return mapFieldTree(value, isPlainObject, copyLeaf, false);
}
