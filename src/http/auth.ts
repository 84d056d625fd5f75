import type { IncomingMessage } from 'node:http';
import type { AccessControl, UserRecord } from '../auth/access-control.js';
import { isLoopback } from '../server/connection.js';
import { HttpError, notAuthenticated, notAuthorised } from './errors.js';

/**
 * HTTP Basic authentication and RabbitMQ's management tag rules
 * (rabbit_web_dispatch_access_control): only users tagged administrator,
 * monitoring, policymaker or management may use the API at all; monitoring
 * sees every vhost, connection and node; administrator may do everything.
 */
export const isAdmin = (u: UserRecord): boolean => u.tags.includes('administrator');
export const isMonitor = (u: UserRecord): boolean => isAdmin(u) || u.tags.includes('monitoring');
export const isPolicymaker = (u: UserRecord): boolean => isAdmin(u) || u.tags.includes('policymaker');
export const isManagementUser = (u: UserRecord): boolean => isMonitor(u) || isPolicymaker(u) || u.tags.includes('management');

/**
 * A login that was tried and refused (bad credentials, or a loopback-only
 * user from afar): the 401 to answer, and what brute-force damping counts and
 * logs. A request without credentials at all is not one (a browser's first
 * request never has any).
 */
export class FailedLogin extends HttpError {
  constructor(reply: HttpError, readonly username: string | undefined) {
    super(reply.status, reply.error, reply.reason, reply.headers);
    this.name = 'FailedLogin';
  }
}

/** The authenticated management user of a request, or the 401 RabbitMQ gives. */
export function authenticate(req: IncomingMessage, access: AccessControl, loopbackUsers: readonly string[]): UserRecord {
  const header = req.headers.authorization;
  if (header === undefined) throw notAuthenticated();
  const m = /^Basic\s+([A-Za-z0-9+/=]+)\s*$/i.exec(header);
  if (!m) throw new FailedLogin(notAuthenticated(), undefined);
  const decoded = Buffer.from(m[1]!, 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  if (colon < 0) throw new FailedLogin(notAuthenticated(), undefined);
  const username = decoded.slice(0, colon);
  const user = access.authenticate(username, decoded.slice(colon + 1));
  if (!user) throw new FailedLogin(notAuthenticated(), username);
  if (loopbackUsers.includes(user.name) && !isLoopback(req.socket.remoteAddress)) throw new FailedLogin(notAuthorised('User can only log in via localhost'), username);
  if (!isManagementUser(user)) throw notAuthorised('Not management user');
  return user;
}

export function requireAdmin(user: UserRecord): void {
  if (!isAdmin(user)) throw notAuthorised('Not administrator user');
}

export function requireMonitor(user: UserRecord): void {
  if (!isMonitor(user)) throw notAuthorised('Not monitor user');
}

/** Vhosts a user may log into (RabbitMQ's list_login_vhosts). */
export function loginVhosts(user: UserRecord, access: AccessControl, all: Iterable<string>): string[] {
  return [...all].filter((v) => access.mayOpen(user.name, v));
}

/** Vhosts whose objects the user sees in lists: all for monitors, else the ones they may log into. */
export function visibleVhosts(user: UserRecord, access: AccessControl, all: Iterable<string>): string[] {
  return isMonitor(user) ? [...all] : loginVhosts(user, access, all);
}
