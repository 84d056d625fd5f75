/**
 * The embedding API's read side over the vhosts: plain copies of queues,
 * exchanges and bindings (as rabbitmqctl lists them) and a queue's ready
 * messages, taken from each model object's own snapshot.
 */
import type { BindingStats, ExchangeStats, PeekedMessage, QueueStats } from './broker/snapshots.js';
import type { VirtualHost } from './broker/virtual-host.js';

/** A queue as `broker.queues()` lists it. */
export interface QueueInfo extends QueueStats {
  vhost: string;
}

export interface ExchangeInfo extends ExchangeStats {
  vhost: string;
}

export interface BindingInfo extends BindingStats {
  vhost: string;
}

function vhostsNamed(vhosts: ReadonlyMap<string, VirtualHost>, name: string | undefined): VirtualHost[] {
  if (name === undefined) return [...vhosts.values()];
  const vhost = vhosts.get(name);
  if (!vhost) throw new Error(`no vhost '${name}'`);
  return [vhost];
}

export function listQueues(vhosts: ReadonlyMap<string, VirtualHost>, vhost?: string): QueueInfo[] {
  return vhostsNamed(vhosts, vhost).flatMap((v) => [...v.queues.values()].map((q) => ({ vhost: v.name, ...q.stats() })));
}

export function listExchanges(vhosts: ReadonlyMap<string, VirtualHost>, vhost?: string): ExchangeInfo[] {
  return vhostsNamed(vhosts, vhost).flatMap((v) => v.snapshot().exchanges.map((x) => ({ vhost: v.name, ...x })));
}

export function listBindings(vhosts: ReadonlyMap<string, VirtualHost>, vhost?: string): BindingInfo[] {
  return vhostsNamed(vhosts, vhost).flatMap((v) => v.snapshot().bindings.map((b) => ({ vhost: v.name, ...b })));
}

/**
 * The ready messages of a queue (up to `count`, default all) in delivery
 * order, with properties and a copy of the body. Nothing is consumed:
 * counts and redelivered flags stay as they are.
 */
export function peekQueueNamed(vhosts: ReadonlyMap<string, VirtualHost>, queue: string, options: { count?: number; vhost?: string }): PeekedMessage[] {
  const vhost = options.vhost ?? '/';
  const q = vhostsNamed(vhosts, vhost)[0]!.queues.get(queue);
  if (!q) throw new Error(`no queue '${queue}' in vhost '${vhost}'`);
  return q.peek(options.count ?? Infinity);
}
