/**
 * Coalesces socket writes: frames produced while handling I/O are encoded into
 * each connection's buffer, and every dirty connection is flushed once, after
 * the current round of I/O callbacks (setImmediate), with one corked write.
 */
import { reportFailure, type ErrorLog } from '../observe/guard.js';

export interface Flushable {
  flush(): void;
  /** Where a failed flush is logged. */
  readonly logger?: ErrorLog;
}

let dirty: Flushable[] = [];
let scheduled = false;

function flushAll(): void {
  scheduled = false;
  const batch = dirty;
  dirty = [];
  for (const target of batch) {
    // Runs from setImmediate: one connection's failure must neither end the process nor
    // keep the other connections' output waiting.
    try {
      target.flush();
    } catch (err) {
      reportFailure(target.logger, 'flushing a connection', {}, err);
    }
  }
}

/** Queue a flush of `target`; the caller keeps its own "already scheduled" flag. */
export function scheduleFlush(target: Flushable): void {
  dirty.push(target);
  if (!scheduled) {
    scheduled = true;
    setImmediate(flushAll);
  }
}
