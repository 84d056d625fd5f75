/** `broker.url()`: an AMQP URL that connects, built from what the broker was started with. */
import type { UserDefinition } from '../config.js';

export interface UrlOptions {
  /** Default: the first configured user (guest unless `users` was given). */
  user?: string;
  /** Default: the configured password of `user`. */
  password?: string;
  /** Default: "/" when the user may open it, else the first vhost the user may open. */
  vhost?: string;
}

export interface UrlTarget {
  /** The address the broker listens on. */
  host: string;
  port: number;
  /** Users whose passwords are known (the configured ones, or the default guest). */
  users: readonly UserDefinition[];
  loopbackUsers: readonly string[];
  vhosts: readonly string[];
  /** Whether the user exists and has permissions on the vhost (as of now). */
  mayOpen(user: string, vhost: string): boolean;
}

/**
 * Where a client on this machine reaches a listener on `host`: loopback for a
 * wildcard address (IPv4's for ::, which is dual-stack: a machine may have
 * IPv6 without an ::1 loopback), brackets for IPv6.
 */
function connectHost(host: string): string {
  if (host === '' || host === '0.0.0.0' || host === '::') return '127.0.0.1';
  return host.includes(':') ? `[${host}]` : host;
}

function isLoopbackHost(host: string): boolean {
  return host.startsWith('127.') || host === '[::1]' || host === 'localhost';
}

/** Throws (saying why) rather than return a URL the broker would refuse. */
export function amqpUrl(target: UrlTarget, options: UrlOptions = {}): string {
  const name = options.user ?? target.users[0]?.name;
  if (name === undefined) throw new Error('broker.url(): the broker has no users');
  const user = target.users.find((u) => u.name === name);
  const password = options.password ?? user?.password;
  if (password === undefined) throw new Error(`broker.url(): no user '${name}' was configured; pass its password too`);
  const mayOpen = (v: string): boolean => target.mayOpen(name, v);
  const vhost = options.vhost ?? (target.vhosts.includes('/') && mayOpen('/') ? '/' : target.vhosts.find(mayOpen));
  if (vhost === undefined) throw new Error(`broker.url(): user '${name}' has permissions on none of the vhosts`);
  if (!target.vhosts.includes(vhost)) throw new Error(`broker.url(): no vhost '${vhost}' (vhosts: ${target.vhosts.join(', ')})`);
  if (!mayOpen(vhost)) throw new Error(`broker.url(): user '${name}' has no permissions on vhost '${vhost}'`);
  const host = connectHost(target.host);
  if (target.loopbackUsers.includes(name) && !isLoopbackHost(host)) {
    throw new Error(`broker.url(): user '${name}' may only connect from loopback, but the broker listens on ${target.host} only`);
  }
  // "/" is the default vhost of every client's URL parser; any other goes in the path, percent-encoded.
  const path = vhost === '/' ? '' : `/${encodeURIComponent(vhost)}`;
  return `amqp://${encodeURIComponent(name)}:${encodeURIComponent(password)}@${host}:${target.port}${path}`;
}
