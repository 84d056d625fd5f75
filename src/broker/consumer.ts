import type { FieldTable } from '../protocol/index.js';
import type { QueueEntry } from './message.js';
import type { Queue, QueueConsumer } from './queue.js';

/** What a consumer needs from the session (channel) it belongs to. */
export interface ConsumerSession {
  /** Where deliveries go; `writable` is false while the client's socket is backed up. */
  readonly sink: { readonly writable: boolean };
  /** basic.qos global: the channel-wide prefetch (0 = unlimited) and the deliveries it counts. */
  readonly channelPrefetch: number;
  readonly unackedCount: number;
  deliver(consumer: Consumer, entry: QueueEntry): void;
  /** The queue went away: forget the consumer and tell the client. */
  consumerGone(consumer: Consumer): void;
}

/** A subscription of one channel to one queue (basic.consume). */
export class Consumer implements QueueConsumer {
  /** Deliveries to this consumer not yet acked (ack-mode consumers only). */
  unacked = 0;
  /** x-priority (consumer priorities): higher ones are served first while they have credit. */
  readonly priority: number;

  constructor(
    readonly tag: string,
    readonly queue: Queue,
    readonly session: ConsumerSession,
    readonly noAck: boolean,
    readonly exclusive: boolean,
    /** Per-consumer prefetch (basic.qos global=false at consume time); 0 = unlimited. */
    readonly prefetch: number,
    readonly args: FieldTable,
  ) {
    const p = args['x-priority'];
    this.priority = typeof p === 'number' ? p : typeof p === 'bigint' ? Number(p) : 0;
  }

  /** May the queue hand this consumer another message now? */
  canTake(): boolean {
    return this.session.sink.writable && this.hasCredit();
  }

  /** The queue hands it `entry`. */
  deliver(entry: QueueEntry): void {
    this.session.deliver(this, entry);
  }

  /** Its queue was deleted. */
  queueDeleted(): void {
    this.session.consumerGone(this);
  }

  /** Prefetch allows another delivery (whatever the state of the socket). */
  hasCredit(): boolean {
    if (this.noAck) return true;
    const s = this.session;
    return (this.prefetch === 0 || this.unacked < this.prefetch) && (s.channelPrefetch === 0 || s.unackedCount < s.channelPrefetch);
  }
}
