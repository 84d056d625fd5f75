import type { Handler, RequestContext } from './context.js';
import { notFound } from './errors.js';
import { shapeList, type Item } from './list.js';
import type { Router } from './router.js';
import { bindingView, defaultBindingView, exchangeView, queueView, vhostBindings } from './views.js';
import type { Exchange } from '../broker/exchange.js';
import type { Queue } from '../broker/queue.js';

/** Read routes for exchanges, queues and bindings (lists and single objects). */

/** RabbitMQ names the default exchange "amq.default" in URLs. */
export const exchangeName = (segment: string): string => (segment === 'amq.default' ? '' : segment);

/**
 * One object of a vhost: as RabbitMQ's is_authorized_vhost, only administrators
 * and users with permissions in the vhost may look (lists are wider: monitors
 * see every vhost's objects there).
 */
export function findExchange(ctx: RequestContext, name = ctx.params.name!): Exchange {
  const x = ctx.vhost().exchanges.get(exchangeName(name));
  if (!x) throw notFound();
  return x;
}

export function findQueue(ctx: RequestContext, name = ctx.params.name!): Queue {
  const q = ctx.vhost().queues.get(name);
  if (!q) throw notFound();
  return q;
}

const exchanges: Handler = (ctx) => {
  const items: Item[] = [];
  for (const v of ctx.vhostsInScope()) for (const x of v.exchanges.values()) items.push(exchangeView(x, v.name));
  return { body: shapeList(items, ctx.query) };
};

const exchange: Handler = (ctx) => ({ body: exchangeView(findExchange(ctx), ctx.params.vhost!) });

const queues: Handler = (ctx) => {
  const node = ctx.backend.nodeName;
  const items: Item[] = [];
  for (const v of ctx.vhostsInScope()) for (const q of v.queues.values()) items.push(queueView(q, v.name, node));
  return { body: shapeList(items, ctx.query) };
};

const queue: Handler = (ctx) => ({ body: queueView(findQueue(ctx), ctx.params.vhost!, ctx.backend.nodeName) });

const bindings: Handler = (ctx) => {
  const items: Item[] = [];
  for (const v of ctx.vhostsInScope()) items.push(...vhostBindings(v));
  return { body: shapeList(items, ctx.query, []) };
};

const exchangeBindingsAsSource: Handler = (ctx) => {
  const x = findExchange(ctx);
  const vhost = ctx.params.vhost!;
  const items = [...x.outgoing].map((b) => bindingView(b, vhost));
  return { body: shapeList(items, ctx.query, []) };
};

const exchangeBindingsAsDestination: Handler = (ctx) => {
  const x = findExchange(ctx);
  const vhost = ctx.vhost();
  const items = [...vhost.allBindings()].filter((b) => b.destination === x).map((b) => bindingView(b, vhost.name));
  return { body: shapeList(items, ctx.query, []) };
};

const queueBindings: Handler = (ctx) => {
  const q = findQueue(ctx);
  const vhost = ctx.vhost();
  const items = [defaultBindingView(q, vhost.name), ...[...vhost.allBindings()].filter((b) => b.destination === q).map((b) => bindingView(b, vhost.name))];
  return { body: shapeList(items, ctx.query, []) };
};

export function registerObjectRoutes(r: Router<Handler>): void {
  r.add('GET', '/api/exchanges', exchanges)
    .add('GET', '/api/exchanges/:vhost', exchanges)
    .add('GET', '/api/exchanges/:vhost/:name', exchange)
    .add('GET', '/api/exchanges/:vhost/:name/bindings/source', exchangeBindingsAsSource)
    .add('GET', '/api/exchanges/:vhost/:name/bindings/destination', exchangeBindingsAsDestination)
    .add('GET', '/api/queues', queues)
    .add('GET', '/api/queues/:vhost', queues)
    .add('GET', '/api/queues/:vhost/:name', queue)
    .add('GET', '/api/queues/:vhost/:name/bindings', queueBindings)
    .add('GET', '/api/bindings', bindings)
    .add('GET', '/api/bindings/:vhost', bindings);
}
