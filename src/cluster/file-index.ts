/**
 * The files of a data directory that replication keeps equal: everything but
 * the lock file and temporary files (dot-names, written then renamed).
 */
import { readdirSync, rmSync, type Dirent } from 'node:fs';
import { open } from 'node:fs/promises';
import { join, relative, sep } from 'node:path';
import { crc32 } from 'node:zlib';
import type { FileIndex } from './wire.js';

const LOCK_FILE = 'warren.lock';

/**
 * Calls `visit(dir, entry)` for every file and directory entry below `root`,
 * descending into the directories `enter` accepts. A directory that cannot be
 * read (gone meanwhile) is skipped.
 */
function walkTree(root: string, enter: (entry: Dirent) => boolean, visit: (dir: string, entry: Dirent) => void): void {
  const walk = (dir: string): void => {
    let entries: Dirent[];
    try {
      entries = readdirSync(dir, { withFileTypes: true });
    } catch {
      return;
    }
    for (const e of entries) {
      if (e.isDirectory()) {
        if (enter(e)) walk(join(dir, e.name));
      } else visit(dir, e);
    }
  };
  walk(root);
}

/** Relative paths ('/'-separated) of the replicated files under `dataDir`. */
export function replicatedFiles(dataDir: string): string[] {
  const out: string[] = [];
  walkTree(
    dataDir,
    (e) => !e.name.startsWith('.'),
    (dir, e) => {
      if (e.name.startsWith('.') || !e.isFile() || (dir === dataDir && e.name === LOCK_FILE)) return;
      out.push(relative(dataDir, join(dir, e.name)).split(sep).join('/'));
    },
  );
  return out.sort();
}

/** A replicated path relative to `dataDir`, or null for a file replication ignores. */
export function replicatedPath(dataDir: string, abs: string): string | null {
  const rel = relative(dataDir, abs).split(sep).join('/');
  if (rel.startsWith('..') || rel === LOCK_FILE || rel.split('/').some((p) => p.startsWith('.'))) return null;
  return rel;
}

/**
 * Size and crc32 of every replicated file (a follower's side of catch-up),
 * read in chunks asynchronously: a large data directory does not stall the
 * follower's event loop (it proxies clients meanwhile).
 */
export async function indexFiles(dataDir: string): Promise<FileIndex> {
  const index: FileIndex = {};
  const buffer = Buffer.allocUnsafe(1024 * 1024);
  for (const rel of replicatedFiles(dataDir)) {
    try {
      const file = await open(join(dataDir, rel), 'r');
      try {
        let crc = 0;
        let size = 0;
        for (;;) {
          const { bytesRead } = await file.read(buffer, 0, buffer.length, size);
          if (bytesRead === 0) break;
          crc = crc32(buffer.subarray(0, bytesRead), crc);
          size += bytesRead;
        }
        index[rel] = { size, crc };
      } finally {
        await file.close();
      }
    } catch {
      // gone meanwhile: the leader sends it whole
    }
  }
  return index;
}

/** A follower renames a file it deletes to `.<name>` + this, then unlinks it in the background. */
export const DELETED_SUFFIX = '.deleted';

/** Removes what background unlinks left behind (the process died first). */
export function sweepDeleted(dataDir: string): void {
  walkTree(
    dataDir,
    (e) => !e.name.startsWith('.'),
    (dir, e) => {
      if (e.isFile() && e.name.startsWith('.') && e.name.endsWith(DELETED_SUFFIX)) rmSync(join(dir, e.name), { force: true });
    },
  );
}

/** True when `rel` stays inside the data directory (a follower refuses anything else). */
export function isSafeRelativePath(rel: string): boolean {
  return rel.length > 0 && !rel.startsWith('/') && !rel.split('/').some((p) => p === '..' || p === '' || p.startsWith('.'));
}
