import type { FieldTable } from '../protocol/index.js';
import type { Consumer } from './consumer.js';
import { Deque } from './deque.js';
import type { Message, QueueEntry } from './message.js';
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
    return this.ready.length;
  }

  get consumerCount(): number {
    return this.consumers.length;
  }

  get hasExclusiveConsumer(): boolean {
    return this.consumers.length === 1 && this.consumers[0]!.exclusive;
  }

  enqueue(message: Message): void {
    const entry: QueueEntry = { seq: this.nextSeq++, message, redelivered: false };
    if (this.ready.length === 0 && this.consumers.length > 0 && !this.dispatching) {
      const consumer = this.nextConsumer();
      if (consumer) {
        consumer.session.deliver(consumer, entry);
        return;
      }
    }
    this.ready.push(entry);
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
  settle(_entry: QueueEntry): void {
    this.unackedCount--;
  }

  /** Takes the next ready message (basic.get), counting it unacked when the caller keeps it. */
  take(): QueueEntry | undefined {
    return this.ready.shift();
  }

  /** Hands ready messages to consumers with credit until one side runs out. */
  dispatch(): void {
    if (this.dispatching || this.deleted) return;
    this.dispatching = true;
    try {
      while (this.ready.length > 0) {
        const consumer = this.nextConsumer();
        if (!consumer) break;
        consumer.session.deliver(consumer, this.ready.shift()!);
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

  purge(): number {
    const n = this.ready.length;
    this.ready.clear();
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
