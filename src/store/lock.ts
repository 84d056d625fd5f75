import { closeSync, linkSync, mkdirSync, openSync, readFileSync, renameSync, unlinkSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { isDiskFull } from './log-io.js';

export class DataDirLockedError extends Error {}

/**
 * A process's start time (clock ticks since boot, field 22 of
 * /proc/<pid>/stat), or null where /proc is not available. A pid plus its
 * start time names one process: a recycled pid has another start time.
 */
export function processStartTime(pid: number): string | null {
  const stat = procStat(pid);
  return stat?.startTime ?? null;
}

function procStat(pid: number): { state: string; startTime: string } | null {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return null;
  }
  // The command name (field 2) is in parentheses and may hold spaces: count fields after its ')'.
  const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
  const state = fields[0];
  const startTime = fields[19];
  return state !== undefined && startTime !== undefined ? { state, startTime } : null;
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Whether the process that wrote a lock still runs: its pid is alive, not a
 * zombie, and (where /proc tells) started when the lock says it did. A lock
 * from an older Warren holds no start time: a live pid is trusted then.
 */
function holderRuns(pid: number, startTime: string | undefined): boolean {
  if (!processAlive(pid)) return false;
  const stat = procStat(pid);
  if (stat === null) return true; // no /proc (macOS…): the pid is all there is to go on
  if (stat.state === 'Z' || stat.state === 'X') return false;
  return startTime === undefined || stat.startTime === startTime;
}

/**
 * One broker per data directory: `warren.lock` holds the owner's pid and its
 * process start time. A lock whose process is gone (crash, kill -9), is a
 * zombie, or whose pid now belongs to another process is taken over; a live
 * owner is an error.
 */
export class DataDirLock {
  private released = false;

  private constructor(readonly path: string) {}

  static acquire(dataDir: string): DataDirLock {
    mkdirSync(dataDir, { recursive: true });
    const path = join(dataDir, 'warren.lock');
    for (let attempt = 0; attempt < 3; attempt++) {
      if (placeLock(path)) return new DataDirLock(path);
      const holder = readHolder(path);
      if (holder === null) continue; // it went away between our attempt and the read
      if (holder.pid === process.pid && (holder.startTime === undefined || holder.startTime === processStartTime(process.pid))) {
        throw new DataDirLockedError(`data directory ${dataDir} is already in use by a broker in this process`);
      }
      if (Number.isInteger(holder.pid) && holder.pid !== process.pid && holderRuns(holder.pid, holder.startTime)) {
        throw new DataDirLockedError(`data directory ${dataDir} is in use by another Warren process (pid ${holder.pid}, lock file ${path})`);
      }
      takeOverStale(path, holder.text);
    }
    throw new DataDirLockedError(`could not lock data directory ${dataDir}`);
  }

  release(): void {
    if (this.released) return;
    this.released = true;
    try {
      unlinkSync(this.path);
    } catch {
      // already gone
    }
  }
}

/** What a lock file says: its owner's pid and start time, and the raw text (to recognise the same file later). */
interface Holder {
  readonly pid: number;
  readonly startTime: string | undefined;
  readonly text: string;
}

function readHolder(path: string): Holder | null {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    return { pid: NaN, startTime: undefined, text: '' }; // unreadable: stale
  }
  const [pid, started] = text.trim().split(/\s+/);
  return { pid: Number.parseInt(pid ?? '', 10), startTime: started === undefined || started === '-' ? undefined : started, text };
}

/**
 * Puts a complete lock file in place atomically: the pid line is written to a
 * private file first and then hard-linked as warren.lock, which fails if one
 * exists. So no other starter ever reads a half-written (empty) lock and
 * takes it for stale. False when a lock is already there.
 */
function placeLock(path: string): boolean {
  const staging = `${path}.${process.pid}.${Date.now().toString(36)}`;
  const fd = openSync(staging, 'wx', 0o600);
  try {
    try {
      writeSync(fd, `${process.pid} ${processStartTime(process.pid) ?? '-'}\n`);
    } catch (err) {
      // On a full disk the pid cannot be written: the empty lock file still marks the
      // directory as taken (a later broker treats it as stale, as after a crash).
      if (!isDiskFull(err as Error)) throw err;
    } finally {
      closeSync(fd);
    }
    linkSync(staging, path);
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw err;
  } finally {
    try {
      unlinkSync(staging);
    } catch {
      // already gone
    }
  }
}

/**
 * Removes a stale lock, but only the one that was judged stale: it is renamed
 * aside first (atomic, one starter wins) and checked. If another starter had
 * meanwhile replaced it with its own live lock, that lock is put back.
 */
function takeOverStale(path: string, staleText: string): void {
  const aside = `${path}.stale.${process.pid}.${Date.now().toString(36)}`;
  try {
    renameSync(path, aside);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return; // another starter took it away first
    throw err;
  }
  let text = '';
  try {
    text = readFileSync(aside, 'utf8');
  } catch {
    // unreadable: it was the stale one
  }
  if (text !== staleText) {
    try {
      linkSync(aside, path); // a live lock taken by mistake: restore it
    } catch {
      // a third starter placed one meanwhile: that one stands
    }
  }
  unlinkSync(aside);
}
