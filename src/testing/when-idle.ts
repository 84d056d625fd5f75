/**
 * `broker.whenIdle()`: resolves once no message is in flight, so a test can
 * assert on what its app did without sleeping.
 *
 * Idle means: nothing being routed (no content half received), no publish
 * awaiting its confirm, no output waiting to be written or taken by the
 * kernel, no ready message that a consumer with credit is waiting for, no
 * publisher paused by flow control, no handshake or close in progress and,
 * with `unacked: true`, no delivery awaiting its ack. Bytes a client wrote
 * are only visible once the broker has read them, so the broker must also
 * have read nothing new over a few consecutive checks, each after a pass of
 * the event loop's I/O phase.
 */

export interface IdleOptions {
  /** Reject after this many ms (default 5000), naming what is still in flight. */
  timeout?: number;
  /** Also wait until every delivery has been acknowledged (default false). */
  unacked?: boolean;
}

import { reportFailure, type ErrorLog } from '../observe/guard.js';

export interface IdleProbe {
  /** Why the broker is not idle (empty when it is). */
  inFlight(includeUnacked: boolean): string[];
  /** Changes whenever input arrived (total bytes read from clients). */
  inputSeen(): string;
}

/** What the probe looks at: the client connections and the queues. */
export interface IdleSources {
  readonly connections: ReadonlySet<{ readonly bytesRead: number; describeInFlight(includeUnacked: boolean, out: string[]): void }>;
  readonly vhosts: ReadonlyMap<string, { readonly name: string; readonly queues: ReadonlyMap<string, { readonly name: string; readonly deliveryPending: boolean }> }>;
}

/** The broker's probe: connections say what they have in flight; queues, ready messages waiting for a socket to drain. */
export function brokerIdleProbe(sources: IdleSources): IdleProbe {
  return {
    inFlight: (includeUnacked) => {
      const out: string[] = [];
      for (const c of sources.connections) c.describeInFlight(includeUnacked, out);
      for (const v of sources.vhosts.values()) {
        for (const q of v.queues.values()) if (q.deliveryPending) out.push(`queue '${q.name}' in vhost '${v.name}': ready messages waiting for a consumer's socket to drain`);
      }
      return out;
    },
    inputSeen: () => {
      let bytes = 0;
      for (const c of sources.connections) bytes += c.bytesRead;
      return `${sources.connections.size}:${bytes}`;
    },
  };
}

/** Consecutive idle checks, with no new input between them, that make "idle". */
const QUIET_CHECKS = 3;
const CHECK_EVERY_MS = 2;

/**
 * Polls `probe` until the broker is idle. The checks run from a timer: a
 * probe that throws is logged at error (on `logger`) and rejects the wait,
 * never ending the process.
 */
export function waitUntilIdle(probe: IdleProbe, options: IdleOptions = {}, logger: ErrorLog | null = null): Promise<void> {
  const timeout = options.timeout ?? 5000;
  const includeUnacked = options.unacked ?? false;
  const deadline = Date.now() + timeout;
  return new Promise((resolve, reject) => {
    let quiet = 0;
    let lastInput = probe.inputSeen();
    const check = (): void => {
      try {
        checkOnce();
      } catch (err) {
        reportFailure(logger, 'broker.whenIdle() check', {}, err);
        reject(err instanceof Error ? err : new Error(String(err)));
      }
    };
    const checkOnce = (): void => {
      const input = probe.inputSeen();
      const busy = probe.inFlight(includeUnacked);
      if (busy.length > 0 || input !== lastInput) quiet = 0;
      else if (++quiet >= QUIET_CHECKS) return resolve();
      lastInput = input;
      if (Date.now() >= deadline) {
        const why = busy.length > 0 ? busy.join('; ') : 'clients kept sending';
        reject(new Error(`broker.whenIdle(): still busy after ${timeout} ms: ${why}`));
        return;
      }
      // A timer, not setImmediate: the I/O phase must run between checks so unread input shows up.
      setTimeout(check, CHECK_EVERY_MS);
    };
    check();
  });
}
