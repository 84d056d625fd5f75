import type { FieldTable } from '../protocol/index.js';
import { MessageStats } from '../observe/stats.js';
import { createRouter, type Destination, type ExchangeType, type Router } from './routing.js';

export interface ExchangeOptions {
  durable: boolean;
  autoDelete: boolean;
  internal: boolean;
  arguments: FieldTable;
}

/** A binding from an exchange to a queue or another exchange. */
export interface Binding {
  readonly source: Exchange;
  readonly destination: Destination;
  readonly routingKey: string;
  readonly arguments: FieldTable;
  /** Identity within the vhost: source, destination, key and arguments. */
  readonly key: string;
}

export class Exchange implements Destination {
  readonly kind = 'exchange';
  routeMark = 0;
  readonly router: Router;
  readonly durable: boolean;
  readonly autoDelete: boolean;
  readonly internal: boolean;
  readonly arguments: FieldTable;
  /** Bindings where this exchange is the source. */
  readonly outgoing = new Set<Binding>();
  /** Auto-delete exchanges go when their last binding goes, once they have had one. */
  hadBinding = false;
  /** The alternate exchange: where messages this one cannot route go (the argument, else the policy's). */
  alternate: string | undefined;
  /** The `alternate-exchange` argument (it wins over a policy's). */
  readonly declaredAlternate: string | undefined;
  /** The name of the policy in force, if any. */
  policy: string | null = null;
  /** publish_in: messages published to it; publish_out: queue deliveries it routed. */
  readonly messageStats = new MessageStats();

  constructor(readonly name: string, readonly type: ExchangeType, options: ExchangeOptions) {
    this.router = createRouter(type);
    this.durable = options.durable;
    this.autoDelete = options.autoDelete;
    this.internal = options.internal;
    this.arguments = options.arguments;
    const ae = options.arguments['alternate-exchange'];
    this.declaredAlternate = typeof ae === 'string' ? ae : Buffer.isBuffer(ae) ? ae.toString('utf8') : undefined;
    this.alternate = this.declaredAlternate;
  }

  /** A policy change: its alternate exchange applies unless the exchange's own argument names one. */
  applyPolicy(policy: string | null, alternate: string | undefined): void {
    this.policy = policy;
    this.alternate = this.declaredAlternate ?? alternate;
  }
}
