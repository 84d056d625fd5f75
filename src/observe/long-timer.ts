/**
 * The one way the broker sets a timer whose delay comes from a client or an
 * operator (TTLs, x-expires, consumer_timeout…). Node's setTimeout takes at
 * most 2^31−1 ms (≈ 24.8 days); a longer delay is replaced by 1 ms with a
 * TimeoutOverflowWarning, so a queue with a 30-day TTL would fire a thousand
 * times a second. RabbitMQ accepts TTLs up to 2^32−1 ms. Here a long delay is
 * served in steps of at most 2^31−1 ms, counted on the timers' own clock, so
 * the callback runs once, when the whole delay has passed.
 */

/** setTimeout's longest delay. */
export const MAX_TIMER_DELAY = 0x7fff_ffff;

export interface LongTimeout {
  /** Cancels the timer (a no-op once it has fired or been cleared). */
  clear(): void;
}

export interface LongTimeoutOptions {
  /** Whether the pending timer keeps the process alive (default false: it is unref'd). */
  ref?: boolean;
}

class SteppedTimeout implements LongTimeout {
  private handle: NodeJS.Timeout | null = null;

  constructor(
    private readonly fn: () => void,
    /** Milliseconds still to wait after the step now running. */
    private remaining: number,
    private readonly ref: boolean,
  ) {
    this.step();
  }

  private step(): void {
    const delay = Math.min(this.remaining, MAX_TIMER_DELAY);
    this.remaining -= delay;
    this.handle = setTimeout(this.fire, delay);
    if (!this.ref) this.handle.unref();
  }

  private readonly fire = (): void => {
    this.handle = null;
    if (this.remaining > 0) this.step();
    else this.fn();
  };

  clear(): void {
    if (this.handle !== null) clearTimeout(this.handle);
    this.handle = null;
    this.remaining = 0;
  }
}

/** Calls `fn` once after `delayMs` (any length; negative or NaN means at once), like setTimeout. */
export function setLongTimeout(fn: () => void, delayMs: number, options: LongTimeoutOptions = {}): LongTimeout {
  const delay = Number.isFinite(delayMs) && delayMs > 0 ? delayMs : delayMs === Infinity ? Number.MAX_SAFE_INTEGER : 0;
  return new SteppedTimeout(fn, delay, options.ref ?? false);
}
