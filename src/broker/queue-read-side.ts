/**
 * A queue's read side: its counts (stats), bytes and activity (usage), and
 * its ready messages looked at without taking them (peek: the in-memory head
 * first, then the backlog paged out to storage, in delivery order). Nothing
 * is delivered, counted, marked redelivered, paged in or renewed.
 */
import type { QueueStorage } from '../store/queue-storage.js';
import { copyProperties, copyTable, type PeekedMessage, type QueueStats, type QueueUsage } from './snapshots.js';
import type { FieldTable } from '../protocol/index.js';
import type { QueueConsumer } from './queue-types.js';
import { decodeContentProperties } from '../protocol/index.js';
import type { Message, QueueEntry } from './message.js';

/** The parts of a Queue the read side reads (structural, so this module does not import queue.ts back). */
export interface ReadableQueue {
  readonly name: string;
  readonly durable: boolean;
  readonly exclusiveOwner: object | null;
  readonly autoDelete: boolean;
  readonly arguments: FieldTable;
  readonly policy: { readonly singleActiveConsumer?: boolean };
  readonly ready: Iterable<QueueEntry> & { peek(): QueueEntry | undefined };
  readonly storage: QueueStorage | null;
  readonly consumers: readonly QueueConsumer[];
  readonly messageCount: number;
  readonly unackedCount: number;
  readonly unackedBytes: number;
  readonly readyBytes: number;
  readonly lastUsedAt: number;
}

/** What the queue holds now, as a plain object (nothing changes: no expiry check, no x-expires renewal). */
export function queueStats(q: ReadableQueue): QueueStats {
  const ready = q.messageCount;
  return {
    name: q.name,
    durable: q.durable,
    exclusive: q.exclusiveOwner !== null,
    autoDelete: q.autoDelete,
    arguments: copyTable(q.arguments),
    messages: ready + q.unackedCount,
    messagesReady: ready,
    messagesUnacknowledged: q.unackedCount,
    consumers: q.consumers.length,
  };
}

/** Bytes, paging and activity, for the management API and metrics (taken on demand, never per message). */
export function queueUsage(q: ReadableQueue): QueueUsage {
  const head = q.ready.peek();
  return {
    messageBytes: q.readyBytes + q.unackedBytes,
    messageBytesReady: q.readyBytes,
    messageBytesUnacknowledged: q.unackedBytes,
    messagesPagedOut: q.storage?.backlogLength ?? 0,
    activeConsumers: q.policy.singleActiveConsumer ? Math.min(1, q.consumers.length) : q.consumers.length,
    lastUsedAt: q.lastUsedAt,
    headMessageTimestamp: head?.message.properties.timestamp ?? null,
  };
}

function bodyCopy(body: Buffer | Buffer[]): Buffer {
  return Buffer.isBuffer(body) ? Buffer.from(body) : Buffer.concat(body);
}

function peeked(message: Message, redelivered: boolean): PeekedMessage {
  return {
    exchange: message.exchange,
    routingKey: message.routingKey,
    redelivered,
    properties: copyProperties(message.properties),
    body: bodyCopy(message.body),
  };
}

/** Up to `count` ready messages of `queue`, oldest (next to be delivered) first; expired ones are skipped. */
export function peekQueue(queue: ReadableQueue, count: number): PeekedMessage[] {
  const out: PeekedMessage[] = [];
  const now = Date.now();
  for (const entry of queue.ready) {
    if (out.length >= count) return out;
    if (entry.expiresAt === 0 || entry.expiresAt > now) out.push(peeked(entry.message, entry.redelivered));
  }
  if (!queue.storage || out.length >= count) return out;
  for (const rec of queue.storage.peekBacklog(count - out.length, now)) {
    out.push({ exchange: rec.exchange, routingKey: rec.routingKey, redelivered: rec.redelivered, properties: copyProperties(decodeContentProperties(rec.header)), body: rec.body });
  }
  return out;
}
