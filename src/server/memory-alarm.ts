/**
 * The memory alarm (RabbitMQ's vm_memory_high_watermark): the broker's
 * resident set size is sampled on a timer and compared with the watermark.
 * While it is above, the alarm is set and connections that publish are
 * blocked (see Connection); once it falls back below, the alarm clears.
 *
 * Sampling uses process.memoryUsage.rss(), which reads one number from the
 * OS (unlike process.memoryUsage(), which walks the V8 heap spaces).
 */
export class MemoryAlarm {
  private active = false;
  /** Set by force(): the alarm is held in that state and the sampler is ignored. */
  private forced: boolean | null = null;
  private timer: NodeJS.Timeout | null = null;

  constructor(
    /** Watermark in bytes. */
    readonly limit: number,
    private readonly interval: number,
    private readonly onChange: (active: boolean, used: number, limit: number) => void,
    private readonly sample: () => number = () => process.memoryUsage.rss(),
  ) {}

  get alarmed(): boolean {
    return this.active;
  }

  start(): void {
    if (this.timer) return;
    this.check();
    this.timer = setInterval(() => this.check(), this.interval);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }

  /** Compares the current memory use with the watermark (a no-op while forced). */
  check(): void {
    if (this.forced !== null) return;
    const used = this.sample();
    this.set(used > this.limit, used);
  }

  /** Holds the alarm set (true) or clear (false), or (null) hands it back to the sampler. */
  force(on: boolean | null): void {
    this.forced = on;
    if (on === null) this.check();
    else this.set(on, this.sample());
  }

  private set(on: boolean, used: number): void {
    if (on === this.active) return;
    this.active = on;
    this.onChange(on, used, this.limit);
  }
}
