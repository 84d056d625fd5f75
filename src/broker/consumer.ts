import type { FieldTable } from '../protocol/index.js';
import type { Queue } from './queue.js';
import type { Session } from './session.js';

/** A subscription of one channel to one queue (basic.consume). */
export class Consumer {
  /** Deliveries to this consumer not yet acked (ack-mode consumers only). */
  unacked = 0;
  /** x-priority (consumer priorities): higher ones are served first while they have credit. */
  readonly priority: number;

  constructor(
    readonly tag: string,
    readonly queue: Queue,
    readonly session: Session,
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

  /** Prefetch allows another delivery (whatever the state of the socket). */
  hasCredit(): boolean {
    if (this.noAck) return true;
    const s = this.session;
    return (this.prefetch === 0 || this.unacked < this.prefetch) && (s.channelPrefetch === 0 || s.unackedCount < s.channelPrefetch);
  }
}
