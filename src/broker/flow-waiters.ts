import type { FlowWaiter } from './queue-types.js';

/** Publishers paused on a congested source, each kept once, all resumed together. */
export class FlowWaiters {
  private list: FlowWaiter[] = [];

  get length(): number {
    return this.list.length;
  }

  add(waiter: FlowWaiter): void {
    // A throttled publisher asks again every pause (50 ms) while the source stays congested:
    // keep it once, or the list grows (and holds closed connections) until it drains.
    if (!this.list.includes(waiter)) this.list.push(waiter);
  }

  release(): void {
    const waiters = this.list;
    this.list = [];
    for (const w of waiters) w.flowResumed();
  }
}
