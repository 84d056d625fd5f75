import { MessageStats } from '../observe/stats.js';

/**
 * One vhost's channel message counters, for its totals and rates: the
 * counters of each open channel, and the sum of those that have closed.
 * A channel registers its counters when it opens and folds them in when it
 * closes, so the vhost holds counters only — never the sessions themselves.
 */
export class ChannelCounters {
  private readonly open = new Set<MessageStats>();
  /** Message counters of the channels that have closed (the open ones keep their own). */
  private readonly ofClosed = new MessageStats();

  /** A channel opened with these counters. */
  opened(stats: MessageStats): void {
    this.open.add(stats);
  }

  /** The channel with these counters closed: they join the closed channels' sum. */
  closed(stats: MessageStats): void {
    if (this.open.delete(stats)) this.ofClosed.add(stats);
  }

  /** How many channels are open in the vhost. */
  get openCount(): number {
    return this.open.size;
  }

  /** Takes a rate sample of each open channel's counters. */
  sample(seconds: number): void {
    for (const s of this.open) s.sample(seconds);
  }

  /** Adds the counters of every channel, closed and open, into `into`. */
  totals(into: MessageStats): MessageStats {
    into.add(this.ofClosed);
    for (const s of this.open) into.add(s);
    return into;
  }
}
