/**
 * `broker.reset()`'s model half: every object a client declared in a vhost
 * goes — queues with their messages and consumers, exchanges other than the
 * default and amq.* ones, bindings — through the same model commands
 * clients use (so a broker with a data directory journals the deletions).
 */
import type { VirtualHost } from '../broker/virtual-host.js';

/** Whether an exchange is one every vhost is created with (the default exchange and amq.*). */
const isStandardExchange = (name: string): boolean => name === '' || name.startsWith('amq.');

/** Acts as no connection: only exclusive queues care who asks, and they are gone by then. */
const RESET_OWNER = { id: 0 };

export function clearVirtualHost(vhost: VirtualHost): void {
  for (const q of [...vhost.queues.values()]) vhost.removeQueue(q);
  for (const name of [...vhost.exchanges.keys()]) if (!isStandardExchange(name)) vhost.deleteExchange(name, false);
  // What is left: bindings between the standard exchanges themselves.
  for (const b of vhost.snapshot().bindings) {
    if (b.source !== '') vhost.unbind(b.destinationType, b.destination, b.source, b.routingKey, b.arguments, RESET_OWNER);
  }
}
