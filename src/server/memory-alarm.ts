/**
 * The memory alarm (RabbitMQ's vm_memory_high_watermark): the broker's
 * resident set size is sampled on a timer (and by the server after every few
 * MiB of client input, see ResourceAlarms) and compared with the watermark.
 * Above it the alarm is set and publishing connections are blocked.
 *
 * Hysteresis: RSS saw-tooths with garbage collection, so an alarm that cleared
 * as soon as one sample fell below the watermark would flap (set, clear, set
 * again within a second, each time waking every blocked publisher for a burst
 * that pushes memory straight back up). The alarm clears only once memory has
 * stayed below CLEAR_FRACTION of the watermark for CLEAR_AFTER ms.
 *
 * Sampling uses process.memoryUsage.rss(), which reads one number from the
 * OS (unlike process.memoryUsage(), which walks the V8 heap spaces).
 */

import { guarded, type ErrorLog } from '../observe/guard.js';

/** The alarm clears only below this fraction of the watermark... */
export const CLEAR_FRACTION = 0.95;
/** ...after staying there this long (ms). */
export const CLEAR_AFTER = 1000;

export interface MemoryAlarmOptions {
  /** Watermark in bytes. */
  limit: number;
  /** Timer sampling interval (ms). */
  interval: number;
  onChange: (active: boolean, used: number, limit: number) => void;
  /** Memory in use, in bytes (default: the process's RSS). Tests inject readings. */
  sample?: () => number;
  /** Clock for the hysteresis (default Date.now). */
  now?: () => number;
  clearFraction?: number;
  clearAfter?: number;
  /** Where a failed check is logged (the timer goes on). */
  logger?: ErrorLog;
}

export class MemoryAlarm {
  readonly limit: number;
  private active = false;
  /** Set by force(): the alarm is held in that state and the sampler is ignored. */
  private forced: boolean | null = null;
  private timer: NodeJS.Timeout | null = null;
  /** When memory last went below the clearing mark while the alarm was set (-1: it is not below). */
  private belowSince = -1;
  private readonly clearBelow: number;
  private readonly clearAfter: number;
  private readonly sample: () => number;
  private readonly now: () => number;

  constructor(private readonly options: MemoryAlarmOptions) {
    this.limit = options.limit;
    this.clearBelow = Math.floor(options.limit * (options.clearFraction ?? CLEAR_FRACTION));
    this.clearAfter = options.clearAfter ?? CLEAR_AFTER;
    this.sample = options.sample ?? (() => process.memoryUsage.rss());
    this.now = options.now ?? Date.now;
  }

  get alarmed(): boolean {
    return this.active;
  }

  start(): void {
    if (this.timer) return;
    this.check();
    this.timer = setInterval(guarded(this.options.logger, 'memory alarm check', {}, () => this.check()), this.options.interval);
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
    if (!this.active) {
      if (used > this.limit) this.set(true, used);
      return;
    }
    if (used > this.clearBelow) {
      this.belowSince = -1;
      return;
    }
    const now = this.now();
    if (this.belowSince < 0) this.belowSince = now;
    if (now - this.belowSince >= this.clearAfter) this.set(false, used);
  }

  /** Holds the alarm set (true) or clear (false), or (null) hands it back to the sampler. */
  force(on: boolean | null): void {
    this.forced = on;
    if (on === null) this.check();
    else this.set(on, this.sample());
  }

  private set(on: boolean, used: number): void {
    this.belowSince = -1;
    if (on === this.active) return;
    this.active = on;
    this.options.onChange(on, used, this.limit);
  }
}
