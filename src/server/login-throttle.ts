/**
 * Brute-force damping: failed logins from one address are answered later and
 * later (doubling up to MAX_DELAY_MS), and logged once per LOG_INTERVAL_MS
 * with a count instead of once per attempt. Other addresses are never
 * delayed; an address is forgotten after FORGET_MS without failures, or at
 * its next successful login. Memory is bounded (MAX_ADDRESSES).
 */

const FIRST_DELAY_MS = 50;
const MAX_DELAY_MS = 1000;
const LOG_INTERVAL_MS = 10_000;
const FORGET_MS = 60_000;
const MAX_ADDRESSES = 10_000;

interface Failures {
  count: number;
  last: number;
  loggedAt: number;
  /** Failures not logged since loggedAt. */
  unlogged: number;
}

export interface LoginFailure {
  /** Wait this long before answering the refusal. */
  delayMs: number;
  /** Log this failure (false: it is counted into the next periodic line). */
  log: boolean;
  /** Failures from the address in a row, this one included. */
  failures: number;
  /** Failures not logged since the last line (included when `log`). */
  unlogged: number;
}

export class LoginThrottle {
  private readonly byAddress = new Map<string, Failures>();

  constructor(private readonly now: () => number = Date.now) {}

  failed(address: string): LoginFailure {
    const t = this.now();
    let f = this.byAddress.get(address);
    if (f && t - f.last > FORGET_MS) f = undefined;
    if (f) this.byAddress.delete(address); // re-inserted below: the map stays in least-recent-first order
    else f = { count: 0, last: t, loggedAt: -Infinity, unlogged: 0 };
    f.count++;
    f.last = t;
    this.byAddress.set(address, f);
    if (this.byAddress.size > MAX_ADDRESSES) this.byAddress.delete(this.byAddress.keys().next().value!);
    const delayMs = f.count <= 1 ? 0 : Math.min(MAX_DELAY_MS, FIRST_DELAY_MS * 2 ** (f.count - 2));
    const log = t - f.loggedAt >= LOG_INTERVAL_MS;
    const unlogged = f.unlogged;
    if (log) {
      f.loggedAt = t;
      f.unlogged = 0;
    } else f.unlogged++;
    return { delayMs, log, failures: f.count, unlogged };
  }

  succeeded(address: string): void {
    this.byAddress.delete(address);
  }
}
