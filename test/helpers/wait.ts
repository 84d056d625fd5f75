/**
 * Waiting on observable events, never on the clock. The suite runs on a
 * loaded 2-core machine shared with other work, so every wait is generous:
 * a wait that succeeds returns as soon as its event happens, and the timeout
 * only decides how long a real failure takes to be reported.
 */

/** The default time budget for something that is expected to happen. */
export const WAIT_MS = 10_000;

export interface WaitOptions {
  /** Give up after this many ms (default WAIT_MS). */
  timeout?: number;
  /** What is awaited, for the error message. */
  what?: string;
}

const tick = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/**
 * Polls `check` until it returns true; rejects after the timeout. For
 * conditions that have no event to await (a counter in a snapshot, a file
 * on disk); prefer awaiting the event itself when there is one.
 */
export async function waitFor(check: () => boolean | Promise<boolean>, options: WaitOptions = {}): Promise<void> {
  const { timeout = WAIT_MS, what = 'condition' } = options;
  const end = Date.now() + timeout;
  for (;;) {
    if (await check()) return;
    if (Date.now() >= end) throw new Error(`timed out after ${timeout} ms waiting for ${what}`);
    await tick(5);
  }
}

/** Settles like `p`, or rejects after `ms` naming what was awaited. */
export function withTimeout<T>(p: Promise<T>, ms: number = WAIT_MS, what = 'event'): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${what}`)), ms);
  });
  return Promise.race([p, timeout]).finally(() => clearTimeout(timer));
}

/**
 * Lets `ms` of wall-clock time pass. Only for scenarios where the passing of
 * time is itself the subject (an idle connection, a TTL or timeout running
 * out, pacing a workload) — never to wait for something to happen or to
 * "prove" that something does not: use a barrier (a round trip after which
 * the absent event would have arrived) for that.
 */
export const elapse = (ms: number): Promise<void> => tick(ms);
