/**
 * A small tmpfs to run a data directory on a disk that really fills up
 * (tests run as root, here and in CI). fill() takes every free byte.
 */
import { execFileSync } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, rmSync, statfsSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface Tmpfs {
  dir: string;
  /** Free bytes as statfs reports them (what the broker compares with its limit). */
  free(): number;
  /** Writes a filler file until the filesystem refuses more (ENOSPC). */
  fill(): void;
  /** Writes a filler file leaving about `bytes` free. */
  leaveFree(bytes: number): void;
  /** Deletes the filler files. */
  drain(): void;
  unmount(): void;
}

let fillers = 0;

export function mountTmpfs(size: number): Tmpfs {
  const dir = mkdtempSync(join(tmpdir(), 'warren-tmpfs-'));
  execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${size}`, 'tmpfs', dir]);
  const made: string[] = [];
  const write = (limit: number): void => {
    const path = join(dir, `filler-${++fillers}`);
    made.push(path);
    const fd = openSync(path, 'w');
    const chunk = Buffer.alloc(64 * 1024, 0x66);
    let left = limit;
    try {
      while (left > 0) {
        const n = Math.min(left, chunk.length);
        left -= writeSync(fd, chunk, 0, n);
      }
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOSPC') throw err;
    } finally {
      closeSync(fd);
    }
  };
  const free = (): number => {
    const s = statfsSync(dir);
    return s.bavail * s.bsize;
  };
  return {
    dir,
    free,
    fill: () => write(Number.MAX_SAFE_INTEGER),
    leaveFree: (bytes) => write(Math.max(0, free() - bytes)),
    drain: () => {
      for (const p of made.splice(0)) rmSync(p, { force: true });
    },
    unmount: () => {
      execFileSync('umount', ['-l', dir]);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
