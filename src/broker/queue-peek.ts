/**
 * Looking at a queue's ready messages without taking them: the in-memory
 * head first, then the backlog paged out to the message log, in delivery
 * order. Nothing is delivered, counted, marked redelivered or paged in.
 */
import type { DiskRef, DiskTail } from '../store/disk-tail.js';
import type { MessageLog } from '../store/message-log.js';
import { copyProperties, type PeekedMessage } from './snapshots.js';
import { decodeContentProperties } from '../protocol/index.js';
import type { Message, QueueEntry } from './message.js';

/** The parts of a Queue a peek reads (structural, so this module does not import queue.ts back). */
export interface PeekableQueue {
  readonly ready: Iterable<QueueEntry>;
  readonly tail: DiskTail | null;
  readonly store: { readonly log: MessageLog } | null;
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
  const live = (expiresAt: number): boolean => expiresAt === 0 || expiresAt > now;
  for (const entry of queue.ready) {
    if (out.length >= count) return out;
    if (live(entry.expiresAt)) out.push(peeked(entry.message, entry.redelivered));
  }
  const tail = queue.tail;
  const store = queue.store;
  if (!tail || !store) return out;
  const ref: DiskRef = { segment: 0, offset: 0, length: 0, msgId: 0, redelivered: false, persistent: false, expiresAt: 0, bodySize: 0 };
  for (let i = 0; out.length < count && tail.peekInto(ref, i); i++) {
    // A record still in the log's write buffer cannot be read yet: stop there rather than wait.
    if (!store.log.isReadable(ref.segment, ref.offset, ref.length)) break;
    if (!live(ref.expiresAt)) continue;
    const rec = store.log.read(ref.segment, ref.offset, ref.length);
    out.push({
      exchange: rec.exchange,
      routingKey: rec.routingKey,
      redelivered: ref.redelivered,
      properties: copyProperties(decodeContentProperties(rec.header)),
      body: Buffer.from(rec.body),
    });
  }
  return out;
}
