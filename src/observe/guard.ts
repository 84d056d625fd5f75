/**
 * Crash containment for background work. Timers, deferred callbacks,
 * compaction, paging and flush completions run outside any client's request:
 * an exception thrown there has no caller to go to and would end the process
 * (Node's default for an uncaught exception), taking every client with it.
 * Each such task runs through `runGuarded`, which catches, logs at error with
 * what the task was and what it was working on, and lets the broker go on.
 */
/** The part of the pino logger a guard needs. */
export interface ErrorLog {
  error(obj: object, msg: string): void;
}

/** What a background failure is logged with: the task's name and its subject (queue, segment…). */
export type TaskContext = Record<string, unknown>;

/** Where failures go when the task's owner has no logger (a model object used on its own): stderr, as JSON. */
const fallback: ErrorLog = {
  error(obj: object, msg: string) {
    process.stderr.write(`${JSON.stringify({ level: 50, ...describe(obj), msg })}\n`);
  },
};

function describe(obj: object): Record<string, unknown> {
  const out: Record<string, unknown> = { ...obj };
  const err = out.err;
  if (err instanceof Error) out.err = { type: err.name, message: err.message, stack: err.stack };
  return out;
}

/**
 * Runs `fn` now; an exception is logged at error ("<task> failed") with
 * `context` and the error, and not rethrown. Returns whether `fn` finished.
 */
export function runGuarded(logger: ErrorLog | null | undefined, task: string, context: TaskContext, fn: () => void): boolean {
  try {
    fn();
    return true;
  } catch (err) {
    reportFailure(logger, task, context, err);
    return false;
  }
}

/** `fn` wrapped with runGuarded, for handing to setTimeout, setImmediate or an event emitter. */
export function guarded<A extends unknown[]>(logger: ErrorLog | null | undefined, task: string, context: TaskContext, fn: (...args: A) => void): (...args: A) => void {
  return (...args: A) => {
    try {
      fn(...args);
    } catch (err) {
      reportFailure(logger, task, context, err);
    }
  };
}

/** Logs a failure of background task `task` at error. Never throws itself. */
export function reportFailure(logger: ErrorLog | null | undefined, task: string, context: TaskContext, err: unknown): void {
  try {
    (logger ?? fallback).error({ ...context, task, err }, `${task} failed; the broker carries on`);
  } catch {
    // A logger that throws (a closed destination) must not turn a contained failure into a crash.
  }
}
