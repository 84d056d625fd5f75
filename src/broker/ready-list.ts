/**
 * A queue's ready messages in delivery order. FIFO for ordinary queues; for
 * priority queues (x-max-priority) one FIFO per priority level, highest first.
 * A requeued message goes back to its original position (by seq).
 */
import { Deque } from './deque.js';
import type { QueueEntry } from './message.js';

const entrySeq = (e: QueueEntry): number => e.seq;

export interface ReadyList extends Iterable<QueueEntry> {
  readonly length: number;
  push(entry: QueueEntry): void;
  shift(): QueueEntry | undefined;
  peek(): QueueEntry | undefined;
  /** Puts a previously delivered entry back where its seq belongs. */
  requeue(entry: QueueEntry): void;
  clear(): void;
}

function insertBySeq(deque: Deque<QueueEntry>, entry: QueueEntry): void {
  const last = deque.peekLast();
  if (!last || last.seq < entry.seq) deque.push(entry);
  else deque.insertAt(deque.lowerBound(entry.seq, entrySeq), entry);
}

export class FifoReadyList implements ReadyList {
  private readonly deque = new Deque<QueueEntry>();

  get length(): number {
    return this.deque.length;
  }

  push(entry: QueueEntry): void {
    this.deque.push(entry);
  }

  shift(): QueueEntry | undefined {
    return this.deque.shift();
  }

  peek(): QueueEntry | undefined {
    return this.deque.peek();
  }

  requeue(entry: QueueEntry): void {
    insertBySeq(this.deque, entry);
  }

  clear(): void {
    this.deque.clear();
  }

  [Symbol.iterator](): Iterator<QueueEntry> {
    return this.deque[Symbol.iterator]();
  }
}

/** Priorities 0..max; a message's priority above max counts as max, none as 0 (RabbitMQ's rules). */
export class PriorityReadyList implements ReadyList {
  private readonly levels: Deque<QueueEntry>[];
  private size = 0;

  constructor(readonly maxPriority: number) {
    this.levels = Array.from({ length: maxPriority + 1 }, () => new Deque<QueueEntry>());
  }

  get length(): number {
    return this.size;
  }

  push(entry: QueueEntry): void {
    this.levels[entry.priority]!.push(entry);
    this.size++;
  }

  private top(): Deque<QueueEntry> | undefined {
    for (let p = this.levels.length - 1; p >= 0; p--) if (this.levels[p]!.length > 0) return this.levels[p];
    return undefined;
  }

  shift(): QueueEntry | undefined {
    const level = this.top();
    if (!level) return undefined;
    this.size--;
    return level.shift();
  }

  peek(): QueueEntry | undefined {
    return this.top()?.peek();
  }

  requeue(entry: QueueEntry): void {
    insertBySeq(this.levels[entry.priority]!, entry);
    this.size++;
  }

  clear(): void {
    for (const l of this.levels) l.clear();
    this.size = 0;
  }

  *[Symbol.iterator](): Iterator<QueueEntry> {
    for (let p = this.levels.length - 1; p >= 0; p--) yield* this.levels[p]!;
  }
}
