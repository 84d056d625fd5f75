import type { IncomingMessage } from 'node:http';
import { setTimeout as delay } from 'node:timers/promises';
import type { UserRecord } from '../auth/access-control.js';
import type { LoginThrottle } from '../server/login-throttle.js';
import { truncateForLog } from '../server/login.js';
import type { Logger } from '../observe/logger.js';
import { authenticate, FailedLogin } from './auth.js';

export interface LoginDampingContext {
  readonly access: Parameters<typeof authenticate>[1];
  readonly loopbackUsers: readonly string[];
  /** The broker's one throttle, shared with the AMQP listener: failures on either port count for the address. */
  readonly throttle: LoginThrottle;
  readonly logger: Logger;
}

/**
 * HTTP Basic authentication with the AMQP side's brute-force damping
 * (LoginThrottle): repeated failed logins from one address are answered
 * later and later (doubling up to 1 s) and logged once per interval; other
 * addresses, and good logins, are never delayed. The 401 itself is
 * RabbitMQ's, unchanged.
 */
export async function authenticateDamped(req: IncomingMessage, ctx: LoginDampingContext): Promise<UserRecord> {
  const address = req.socket.remoteAddress ?? '?';
  try {
    const user = authenticate(req, ctx.access, ctx.loopbackUsers);
    ctx.throttle.succeeded(address);
    return user;
  } catch (err) {
    if (!(err instanceof FailedLogin)) throw err;
    const failure = ctx.throttle.failed(address);
    if (failure.log) {
      const repeated = failure.failures > 1 ? { failuresFromAddress: failure.failures, notLoggedSinceLastLine: failure.unlogged, delayMs: failure.delayMs } : {};
      const user = err.username === undefined ? {} : { user: truncateForLog(err.username) };
      ctx.logger.warn({ peer: `${address}:${req.socket.remotePort ?? '?'}`, method: req.method, ...user, ...repeated }, `HTTP API authentication failed: ${err.reason}`);
    }
    if (failure.delayMs > 0) await delay(failure.delayMs);
    throw err;
  }
}
