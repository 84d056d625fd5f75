import { closeSync, mkdirSync, openSync, readFileSync, unlinkSync, writeSync } from 'node:fs';
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
    for (let attempt = 0; attempt < 2; attempt++) {
      try {
        const fd = openSync(path, 'wx', 0o600);
        try {
          writeSync(fd, `${process.pid} ${processStartTime(process.pid) ?? '-'}\n`);
        } catch (err) {
          // On a full disk the pid cannot be written: the empty lock file still marks the
          // directory as taken (a later broker treats it as stale, as after a crash).
          if (!isDiskFull(err as Error)) throw err;
        } finally {
          closeSync(fd);
        }
        return new DataDirLock(path);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
        let owner = NaN;
        let startTime: string | undefined;
        try {
          const [pid, started] = readFileSync(path, 'utf8').trim().split(/\s+/);
          owner = Number.parseInt(pid ?? '', 10);
          startTime = started === undefined || started === '-' ? undefined : started;
        } catch {
          // unreadable: treat as stale
        }
        if (owner === process.pid && (startTime === undefined || startTime === processStartTime(process.pid))) {
          throw new DataDirLockedError(`data directory ${dataDir} is already in use by a broker in this process`);
        }
        if (Number.isInteger(owner) && owner !== process.pid && holderRuns(owner, startTime)) {
          throw new DataDirLockedError(`data directory ${dataDir} is in use by another Warren process (pid ${owner}, lock file ${path})`);
        }
        unlinkSync(path); // stale: its process is gone, a zombie, or the pid was reused
      }
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
