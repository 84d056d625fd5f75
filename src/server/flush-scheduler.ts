/**
 * Coalesces socket writes: frames produced while handling I/O are encoded into
 * each connection's buffer, and every dirty connection is flushed once, after
 * the current round of I/O callbacks (setImmediate), with one corked write.
 */
export interface Flushable {
  flush(): void;
}

let dirty: Flushable[] = [];
let scheduled = false;

function flushAll(): void {
  scheduled = false;
  const batch = dirty;
  dirty = [];
  for (const target of batch) target.flush();
}

/** Queue a flush of `target`; the caller keeps its own "already scheduled" flag. */
export function scheduleFlush(target: Flushable): void {
  dirty.push(target);
  if (!scheduled) {
    scheduled = true;
    setImmediate(flushAll);
  }
}
