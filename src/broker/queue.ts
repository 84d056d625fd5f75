import type { FieldTable } from '../protocol/index.js';
import { DiskTail, type DiskRef } from '../store/disk-tail.js';
import type { MessageLog, StoredLocation } from '../store/message-log.js';
import type { Consumer } from './consumer.js';
import { Deque } from './deque.js';
import { Message, type QueueEntry } from './message.js';
import type { Destination } from './routing.js';

/** The connection that owns an exclusive queue (identity only). */
export interface Owner {
  readonly id: number;
}

export interface QueueOptions {
  durable: boolean;
  exclusiveOwner: Owner | null;
  autoDelete: boolean;
  arguments: FieldTable;
}

const entrySeq = (e: QueueEntry): number => e.seq;

/** A durable queue's place in the message log. */
export interface QueueStore {
  readonly log: MessageLog;
  /** The queue's stable id in log records. */
  readonly id: number;
  /** Ready messages kept in memory; beyond this the backlog is paged to the log's files. */
  readonly memoryWindow: number;
}

/** Messages paged back in at a time when the in-memory head runs low. */
const PAGE_IN_BATCH = 256;
const scratchRef: DiskRef = { segment: 0, offset: 0, length: 0, msgId: 0, redelivered: false, persistent: false };

/**
 * A queue: ready messages in a ring-buffer deque (FIFO by seq), consumers
 * served round-robin among those with credit. Enqueue and dispatch are O(1)
 * per message; only a requeue landing between ready messages costs a shift.
 */
export class Queue implements Destination {
  readonly kind = 'queue';
  routeMark = 0;
  readonly durable: boolean;
  readonly exclusiveOwner: Owner | null;
  readonly autoDelete: boolean;
  readonly arguments: FieldTable;
  readonly ready = new Deque<QueueEntry>();
  readonly consumers: Consumer[] = [];
  /** Messages delivered and awaiting ack. */
  unackedCount = 0;
  /** Auto-delete queues go when their last consumer leaves, once they have had one. */
  hadConsumer = false;
  deleted = false;
  /** Set by the vhost: called when an auto-delete queue loses its last consumer. */
  onUnused: ((queue: Queue) => void) | null = null;
  /** Set for durable queues of a broker with a data directory. */
  store: QueueStore | null = null;
  /** The backlog beyond the memory window: on disk only, oldest first. */
  tail: DiskTail | null = null;
  /** A page-in found its next record not yet written; the log's flush will call dispatch() again. */
  waitingForLog = false;
  private nextSeq = 1;
  private rr = 0;
  private dispatching = false;

  constructor(readonly name: string, options: QueueOptions) {
    this.durable = options.durable;
    this.exclusiveOwner = options.exclusiveOwner;
    this.autoDelete = options.autoDelete;
    this.arguments = options.arguments;
  }

  get messageCount(): number {
    return this.ready.length + (this.tail?.length ?? 0);
  }

  /**
   * True when new messages must go to disk: the queue has a store and its
   * in-memory head is full (or older messages already wait on disk).
   */
  get paging(): boolean {
    const store = this.store;
    return store !== null && ((this.tail !== null && this.tail.length > 0) || this.ready.length >= store.memoryWindow);
  }

  /** Whether the log record of `message` (if any) counts this queue, decided the same way routing decided it. */
  holdsRecord(message: Message): boolean {
    const stored = message.stored;
    return stored !== null && this.store !== null && (stored.persistent || this.paging);
  }

  get consumerCount(): number {
    return this.consumers.length;
  }

  get hasExclusiveConsumer(): boolean {
    return this.consumers.length === 1 && this.consumers[0]!.exclusive;
  }

  enqueue(message: Message): void {
    const logged = this.holdsRecord(message);
    if (logged && this.paging) {
      const loc = message.stored!;
      (this.tail ??= new DiskTail()).push(loc.segment.id, loc.offset, loc.length, loc.msgId, false, loc.persistent);
      return;
    }
    const entry: QueueEntry = { seq: this.nextSeq++, message, redelivered: false, logged };
    if (this.ready.length === 0 && this.consumers.length > 0 && !this.dispatching) {
      const consumer = this.nextConsumer();
      if (consumer) {
        this.handOut(consumer, entry);
        return;
      }
    }
    this.ready.push(entry);
  }

  /** Gives an entry to a consumer; a persistent message's first delivery is noted in the log. */
  private handOut(consumer: Consumer, entry: QueueEntry): void {
    if (entry.logged && !entry.redelivered) this.store!.log.delivered(this.store!.id, entry.message.stored!);
    consumer.session.deliver(consumer, entry);
  }

  /**
   * Refills the in-memory head from the disk tail, in order. Stops early at a
   * record still waiting to be written (the log calls dispatch() after its flush).
   */
  private pageIn(max: number): void {
    const tail = this.tail;
    const store = this.store;
    if (!tail || !store) return;
    const log = store.log;
    for (let n = 0; n < max && tail.peekInto(scratchRef); n++) {
      if (!log.isReadable(scratchRef.segment, scratchRef.offset, scratchRef.length)) {
        this.waitingForLog = true;
        return;
      }
      tail.shiftInto(scratchRef);
      const rec = log.read(scratchRef.segment, scratchRef.offset, scratchRef.length);
      // Copy out of the read-ahead buffer so one unacked message does not pin 256 KiB.
      const message = new Message(rec.exchange, rec.routingKey, Buffer.from(rec.header), Buffer.from(rec.body), rec.body.length);
      const stored: StoredLocation = { msgId: scratchRef.msgId, segment: log.segmentById(scratchRef.segment)!, offset: scratchRef.offset, length: scratchRef.length, persistent: scratchRef.persistent };
      message.stored = stored;
      this.ready.push({ seq: this.nextSeq++, message, redelivered: scratchRef.redelivered, logged: true });
    }
  }

  /** The log finished a write: a page-in that was waiting may go on. */
  logFlushed(): void {
    if (!this.waitingForLog) return;
    this.waitingForLog = false;
    this.dispatch();
  }

  /** Done with an entry that was not counted unacked (no-ack delivery, discarded): release its log record. */
  discard(entry: QueueEntry): void {
    if (!entry.logged) return;
    const store = this.store!;
    if (this.deleted) store.log.release(entry.message.stored!.segment);
    else store.log.ack(store.id, entry.message.stored!);
  }

  /** Puts a delivered message back at its original position, marked redelivered. Call dispatch() after a batch. */
  requeue(entry: QueueEntry): void {
    this.unackedCount--;
    if (this.deleted) return;
    entry.redelivered = true;
    const last = this.ready.peekLast();
    if (!last || last.seq < entry.seq) this.ready.push(entry);
    else this.ready.insertAt(this.ready.lowerBound(entry.seq, entrySeq), entry);
  }

  /** An unacked message was acked (or otherwise settled without requeue). */
  settle(entry: QueueEntry): void {
    this.unackedCount--;
    this.discard(entry);
  }

  /** Takes the next ready message (basic.get), counting it unacked when the caller keeps it. */
  take(): QueueEntry | undefined {
    if (this.ready.length === 0 && this.tail !== null && this.tail.length > 0) this.pageIn(PAGE_IN_BATCH);
    const entry = this.ready.shift();
    if (entry && entry.logged && !entry.redelivered) this.store!.log.delivered(this.store!.id, entry.message.stored!);
    return entry;
  }

  /** Hands ready messages to consumers with credit until one side runs out. */
  dispatch(): void {
    if (this.dispatching || this.deleted) return;
    this.dispatching = true;
    try {
      for (;;) {
        if (this.ready.length === 0) {
          if (this.tail === null || this.tail.length === 0) break;
          this.pageIn(PAGE_IN_BATCH);
          if (this.ready.length === 0) break;
        }
        const consumer = this.nextConsumer();
        if (!consumer) break;
        this.handOut(consumer, this.ready.shift()!);
      }
    } finally {
      this.dispatching = false;
    }
  }

  addConsumer(consumer: Consumer): void {
    this.consumers.push(consumer);
    this.hadConsumer = true;
    this.dispatch();
  }

  removeConsumer(consumer: Consumer): void {
    const i = this.consumers.indexOf(consumer);
    if (i < 0) return;
    this.consumers.splice(i, 1);
    if (this.rr > i) this.rr--;
    if (this.consumers.length === 0 && this.autoDelete && this.hadConsumer) this.onUnused?.(this);
  }

  /** Drops every ready message (in memory and on disk); returns how many. */
  purge(): number {
    const n = this.messageCount;
    for (const entry of this.ready) this.discard(entry);
    this.ready.clear();
    const tail = this.tail;
    const store = this.store;
    if (tail && store) {
      while (tail.shiftInto(scratchRef)) {
        const segment = store.log.segmentById(scratchRef.segment)!;
        if (this.deleted) store.log.release(segment);
        else store.log.ack(store.id, { msgId: scratchRef.msgId, segment, offset: scratchRef.offset, length: scratchRef.length, persistent: scratchRef.persistent });
      }
    }
    return n;
  }

  /** Round-robin: the next consumer, from where the last delivery left off, that can take a message. */
  private nextConsumer(): Consumer | null {
    const list = this.consumers;
    const n = list.length;
    for (let tries = 0; tries < n; tries++) {
      if (this.rr >= n) this.rr = 0;
      const c = list[this.rr++]!;
      if (c.canTake()) return c;
    }
    return null;
  }
}
