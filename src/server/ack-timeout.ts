/**
 * The consumer acknowledgement timeout of one channel (RabbitMQ's
 * consumer_timeout). Deliveries awaiting ack are kept in delivery-tag order,
 * which is also the order they were made in, so only the oldest one needs
 * watching: one timer per channel, set for when that delivery expires, and
 * only while the channel has deliveries awaiting ack.
 */
export class AckTimeout {
  private timer: NodeJS.Timeout | null = null;

  constructor(
    /** The timeout in ms; 0 disables. */
    private readonly timeoutMs: number,
    /** When the oldest delivery still awaiting ack was made (Date.now()), or -1 when none is. */
    private readonly oldest: () => number,
    private readonly onExpired: () => void,
  ) {}

  /** A delivery awaiting ack was made: make sure a check is scheduled (a no-op when one is). */
  arm(): void {
    if (this.timer !== null || this.timeoutMs === 0) return;
    this.schedule(this.timeoutMs);
  }

  cancel(): void {
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
  }

  private schedule(ms: number): void {
    // setTimeout's limit is 2^31 - 1 ms (~24.8 days): a longer timeout is checked again then.
    this.timer = setTimeout(() => this.check(), Math.min(Math.max(ms, 1), 0x7fff_ffff));
    this.timer.unref();
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
