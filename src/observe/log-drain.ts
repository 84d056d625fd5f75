/**
 * Waiting until every line a logger has taken is written out, before an exit.
 *
 * pino's default destination (sonic-boom on stdout) writes asynchronously, one
 * write at a time, and its flush(cb) calls back at once when no minimum write
 * length is set, without waiting for the write in progress. An exit right
 * after that loses nothing queued (pino writes the queue synchronously at
 * exit) but writes it ahead of the line still in flight: on a loaded machine
 * "Warren stopped" came out before "shutdown requested", and the line in
 * flight can be cut off by the exit. An empty write makes sonic-boom emit
 * 'drain' once everything before it is out, whether or not a write was in
 * progress.
 */
import { symbols, type Logger } from 'pino';

/** The parts of a file-descriptor destination (sonic-boom) used here. */
interface FileDestination {
  fd: number;
  write(chunk: string): unknown;
  once(event: 'drain' | 'error', listener: () => void): unknown;
}

function isFileDestination(d: unknown): d is FileDestination {
  if (typeof d !== 'object' || d === null) return false;
  const o = d as Record<string, unknown>;
  return typeof o['fd'] === 'number' && typeof o['write'] === 'function' && typeof o['once'] === 'function';
}

/** Calls `done` once the lines logged so far have left the process (or writing them failed). */
export function whenLogsWritten(logger: Logger, done: () => void): void {
  const destination: unknown = (logger as unknown as Record<symbol, unknown>)[symbols.streamSym];
  if (!isFileDestination(destination)) {
    // Another kind of destination (pino-pretty's worker thread): its flush waits for what it holds.
    logger.flush(() => done());
    return;
  }
  let called = false;
  const finish = (): void => {
    if (called) return;
    called = true;
    done();
  };
  destination.once('drain', finish);
  destination.once('error', finish);
  destination.write('');
}
