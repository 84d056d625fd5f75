import { closeSync, mkdirSync, openSync, readFileSync, unlinkSync, writeSync } from 'node:fs';
import { join } from 'node:path';

export class DataDirLockedError extends Error {}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * One broker per data directory: `warren.lock` holds the owner's pid. A lock
 * left by a dead process (crash, kill -9) is taken over; a live owner is an error.
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
        writeSync(fd, `${process.pid}\n`);
        closeSync(fd);
        return new DataDirLock(path);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
        let owner = NaN;
        try {
          owner = Number.parseInt(readFileSync(path, 'utf8'), 10);
        } catch {
          // unreadable: treat as stale
        }
        if (Number.isInteger(owner) && owner !== process.pid && processAlive(owner)) {
          throw new DataDirLockedError(`data directory ${dataDir} is in use by another Warren process (pid ${owner}, lock file ${path})`);
        }
        if (owner === process.pid) {
          throw new DataDirLockedError(`data directory ${dataDir} is already in use by a broker in this process`);
        }
        unlinkSync(path); // stale lock from a dead process
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
