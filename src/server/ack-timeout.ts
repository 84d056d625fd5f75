/**
 * The consumer acknowledgement timeout of one channel (RabbitMQ's
 * consumer_timeout). Deliveries awaiting ack are kept in delivery-tag order,
 * which is also the order they were made in, so only the oldest one needs
 * watching: one timer per channel, set for when that delivery expires, and
 * only while the channel has deliveries awaiting ack.
 */
import { runGuarded, type ErrorLog } from '../observe/guard.js';
import { setLongTimeout, type LongTimeout } from '../observe/long-timer.js';

export class AckTimeout {
  private timer: LongTimeout | null = null;

  constructor(
    /** The timeout in ms (any length: a long one is not cut short by setTimeout's limit); 0 disables. */
    private readonly timeoutMs: number,
    /** When the oldest delivery still awaiting ack was made (Date.now()), or -1 when none is. */
    private readonly oldest: () => number,
    private readonly onExpired: () => void,
    /** Where a failure of the check is logged. */
    private readonly logger: ErrorLog | null = null,
  ) {}

  /** A delivery awaiting ack was made: make sure a check is scheduled (a no-op when one is). */
  arm(): void {
    if (this.timer !== null || this.timeoutMs === 0) return;
    this.schedule(this.timeoutMs);
  }

  cancel(): void {
    this.timer?.clear();
    this.timer = null;
  }

  private schedule(ms: number): void {
    this.timer = setLongTimeout(() => runGuarded(this.logger, 'consumer_timeout check', {}, () => this.check()), Math.max(ms, 1));
  }

  private check(): void {
    this.timer = null;
    const at = this.oldest();
    if (at < 0) return; // nothing awaits an ack: the next delivery arms the timer again
    const left = at + this.timeoutMs - Date.now();
    if (left <= 0) this.onExpired();
    else this.schedule(left);
  }
}
