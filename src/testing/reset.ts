/**
 * `broker.reset()`'s model half: back to the definitions the broker started
 * with. Every object a client declared goes — queues with their messages and
 * consumers, exchanges other than the default and amq.* ones, bindings —
 * through the same model commands clients use (so a broker with a data
 * directory journals the deletions); vhosts and users created since the start
 * are deleted, and the start's vhosts, users, permissions and objects (e.g.
 * from imported definitions) are put back, empty.
 */
import type { Administration } from '../admin/administration.js';
import type { AccessControl } from '../auth/access-control.js';
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

/** What the broker was started with (taken once start-up is done). */
export interface InitialDefinitions {
  /** RabbitMQ's definitions format, as Administration exports it. */
  readonly document: Record<string, unknown>;
  readonly vhosts: ReadonlySet<string>;
  readonly users: ReadonlySet<string>;
  /** `users` given without `vhosts`: they get full permissions on every vhost created. */
  readonly everyVhostUsers: ReadonlySet<string>;
}

export function captureDefinitions(admin: Administration, access: AccessControl): InitialDefinitions {
  return {
    document: admin.exportDefinitions(),
    vhosts: new Set(admin.listVhosts().map((v) => v.name)),
    users: new Set(access.listUsers().map((u) => u.name)),
    everyVhostUsers: new Set(admin.everyVhostUsers),
  };
}

/**
 * Restores `initial` in `vhosts`. Resolves once the deletions' connection
 * closes are done (the caller has closed every connection already).
 */
export async function restoreDefinitions(initial: InitialDefinitions, vhosts: ReadonlyMap<string, VirtualHost>, admin: Administration, access: AccessControl): Promise<void> {
  const pending: Promise<unknown>[] = [];
  for (const name of [...vhosts.keys()]) if (!initial.vhosts.has(name)) pending.push(admin.deleteVhost(name));
  for (const vhost of vhosts.values()) clearVirtualHost(vhost);
  for (const u of access.listUsers()) if (!initial.users.has(u.name)) pending.push(admin.deleteUser(u.name));
  for (const p of access.listPermissions()) access.clearPermissions(p.user, p.vhost);
  for (const t of access.listTopicPermissions()) access.clearTopicPermissions(t.user, t.vhost, t.exchange);
  admin.everyVhostUsers.clear();
  for (const u of initial.everyVhostUsers) admin.everyVhostUsers.add(u);
  // Users (with their password hashes and tags), vhosts, permissions and the start's objects.
  admin.importDefinitions(initial.document);
  await Promise.all(pending);
}
