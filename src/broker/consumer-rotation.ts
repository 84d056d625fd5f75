/**
 * Which of a queue's consumers is served next: the highest x-priority among
 * consumers that can take a message, round-robin among equals — plain
 * round-robin when all priorities are equal, the common case, O(1) per message.
 */
import type { QueueConsumer } from './queue-types.js';

export class ConsumerRotation {
  private rr = 0;
  /** Whether every consumer has the same x-priority (then plain round-robin applies). */
  private uniformPriority = true;
  private readonly rrByPriority = new Map<number, number>();

  /** A consumer was appended to `list`. */
  added(list: readonly QueueConsumer[]): void {
    this.uniformPriority = list.every((c) => c.priority === list[0]!.priority);
  }

  /** The consumer at `index` was removed from `list`. */
  removed(list: readonly QueueConsumer[], index: number): void {
    if (this.rr > index) this.rr--;
    this.uniformPriority = list.every((c) => c.priority === list[0]!.priority);
  }

  /** The next consumer of `list` (not empty) that can take a message, or null. */
  next(list: readonly QueueConsumer[]): QueueConsumer | null {
    const n = list.length;
    if (this.uniformPriority) {
      for (let tries = 0; tries < n; tries++) {
        if (this.rr >= n) this.rr = 0;
        const c = list[this.rr++]!;
        if (c.canTake()) return c;
      }
      return null;
    }
    const priorities = [...new Set(list.map((c) => c.priority))].sort((a, b) => b - a);
    for (const p of priorities) {
      const group = list.filter((c) => c.priority === p);
      let rr = this.rrByPriority.get(p) ?? 0;
      for (let tries = 0; tries < group.length; tries++) {
        if (rr >= group.length) rr = 0;
        const c = group[rr++]!;
        if (c.canTake()) {
          this.rrByPriority.set(p, rr);
          return c;
        }
      }
    }
    return null;
  }
}
