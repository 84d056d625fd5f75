/**
 * Temporary directories and things to stop that belong to one test file:
 * everything registered is stopped, then every directory removed, after the
 * file's last test (call `scratch()` inside the `describe`).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll } from 'vitest';

export interface Scratch {
  /** A new empty directory under the system's temp dir. */
  tempDir(prefix: string): string;
  /** `stop` runs after the file's tests, before the directories go. */
  onCleanup(stop: () => void): void;
}

export function scratch(): Scratch {
  const dirs: string[] = [];
  const stops: (() => void)[] = [];
  afterAll(() => {
    for (const s of stops) s();
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });
  return {
    tempDir(prefix) {
      const d = mkdtempSync(join(tmpdir(), prefix));
      dirs.push(d);
      return d;
    },
    onCleanup(stop) {
      stops.push(stop);
    },
  };
}
