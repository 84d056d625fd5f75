/**
 * Looking at a queue's ready messages without taking them: the in-memory
 * head first, then the backlog paged out to storage, in delivery order.
 * Nothing is delivered, counted, marked redelivered or paged in.
 */
import type { QueueStorage } from '../store/queue-storage.js';
import { copyProperties, type PeekedMessage } from './snapshots.js';
import { decodeContentProperties } from '../protocol/index.js';
import type { Message, QueueEntry } from './message.js';

/** The parts of a Queue a peek reads (structural, so this module does not import queue.ts back). */
export interface PeekableQueue {
  readonly ready: Iterable<QueueEntry>;
  readonly storage: QueueStorage | null;
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
export function peekQueue(queue: PeekableQueue, count: number): PeekedMessage[] {
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
