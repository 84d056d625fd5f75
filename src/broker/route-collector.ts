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
    this.queues.length = 0;
    this.exchanges.length = 0;
  }

  add(d: Destination): void {
    this.hits++;
    if (d.routeMark === this.epoch) return;
    d.routeMark = this.epoch;
    if (d.kind === 'queue') this.queues.push(d as Queue);
    else this.exchanges.push(d as Exchange);
  }
}
