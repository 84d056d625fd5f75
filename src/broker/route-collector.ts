import type { Exchange } from './exchange.js';
import type { Queue } from './queue.js';
import type { Destination, RouteCollector } from './routing.js';

/** Routing passes are numbered across all collectors, so a mark from one never fools another. */
let routeEpochs = 0;

/**
 * Collects the queues a message reaches, once each, and the exchanges still to
 * visit (exchange-to-exchange bindings). Reused for every publish: routing
 * allocates nothing.
 */
export class Collector implements RouteCollector {
  epoch = 0;
  readonly queues: Queue[] = [];
  readonly exchanges: Exchange[] = [];
  /** add() calls, repeats included: an exchange matched something when its routing called add(). */
  hits = 0;

  begin(): void {
    this.epoch = ++routeEpochs;
    // pop() rather than `length = 0`: these hold a handful of entries, and pop is
    // inlined where the length setter is a runtime call (measurable at once per publish).
    const queues = this.queues;
    while (queues.length > 0) queues.pop();
    const exchanges = this.exchanges;
    while (exchanges.length > 0) exchanges.pop();
  }

  add(d: Destination): void {
    this.hits++;
    if (d.routeMark === this.epoch) return;
    d.routeMark = this.epoch;
    if (d.kind === 'queue') this.queues.push(d as Queue);
    else this.exchanges.push(d as Exchange);
  }
}
