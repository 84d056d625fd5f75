/**
 * The message log's file writes: the operations it uses (injectable, so tests
 * can make the disk fail), a writev that finishes short writes, and which
 * failures mean "no space" (retried) rather than a broken disk (fatal).
 */
import { fdatasync, writev } from 'node:fs';

/** The file operations the log writes with (tests inject failures here). */
export interface LogFileIo {
  writev: typeof writev;
  fdatasync: typeof fdatasync;
}

/** Write errors that mean "no space": the write is retried later and the broker keeps serving. */
export function isDiskFull(err: Error): boolean {
  const code = (err as NodeJS.ErrnoException).code;
  return code === 'ENOSPC' || code === 'EDQUOT';
}

/** How long after a failed write (disk full) the log tries again. */
export const WRITE_RETRY_INTERVAL = 1000;

/** node:fs's writev and fdatasync. */
export function defaultLogFileIo(): LogFileIo {
  return { writev, fdatasync };
}

/** writev until every byte is written (a short write continues where it stopped). */
export function writevAll(write: typeof writev, fd: number, buffers: Buffer[], position: number, cb: (err: Error | null) => void): void {
  write(fd, buffers, position, (err, written) => {
    if (err) return cb(err);
    let left = written;
    let k = 0;
    while (k < buffers.length && left >= buffers[k]!.length) left -= buffers[k++]!.length;
    if (k === buffers.length) return cb(null);
    const rest = [buffers[k]!.subarray(left), ...buffers.slice(k + 1)];
    writevAll(write, fd, rest, position + written, cb);
  });
}
