/**
 * Flow control for the message log: bytes appended but not yet written and
 * synced. Above BEHIND_HIGH the disk is falling behind the publishers, who
 * are paused (flow waiters) until the backlog is down to BEHIND_LOW, so the
 * memory held by unwritten records stays bounded.
 */
import type { Logger } from '../observe/logger.js';
import { runGuarded } from '../observe/guard.js';

const BEHIND_HIGH = 32 * 1024 * 1024;
const BEHIND_LOW = 8 * 1024 * 1024;

export class WriteBacklog {
  /** Bytes appended but not yet written and synced. */
  bytes = 0;
  private waiters: { flowResumed(): void }[] = [];

  get behind(): boolean {
    return this.bytes > BEHIND_HIGH;
  }

  addWaiter(waiter: { flowResumed(): void }): void {
    // Once per publisher, however often a throttled one asks again (see Queue.addFlowWaiter).
    if (!this.waiters.includes(waiter)) this.waiters.push(waiter);
  }

  /** `bytes` are durable now: resumes the paused publishers once the backlog is low (each guarded). */
  written(bytes: number, logger: Logger): void {
    this.bytes -= bytes;
    if (this.waiters.length === 0 || this.bytes > BEHIND_LOW) return;
    const paused = this.waiters;
    this.waiters = [];
    for (const w of paused) runGuarded(logger, 'resuming a publisher paused on the message log', {}, () => w.flowResumed());
  }
}
