/**
 * The files of a data directory that replication keeps equal: everything but
 * the lock file and temporary files (dot-names, written then renamed).
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative, sep } from 'node:path';
import { crc32 } from 'node:zlib';
import type { FileIndex } from './wire.js';

const LOCK_FILE = 'warren.lock';

/** Relative paths ('/'-separated) of the replicated files under `dataDir`. */
export function replicatedFiles(dataDir: string): string[] {
  const out: string[] = [];
  const walk = (dir: string): void => {
    let entries;
    try {
      entries = readdirSync(dir, { withFileTypes: true });
    } catch {
      return;
    }
    for (const e of entries) {
      if (e.name.startsWith('.')) continue;
      const abs = join(dir, e.name);
      if (e.isDirectory()) walk(abs);
      else if (e.isFile() && !(dir === dataDir && e.name === LOCK_FILE)) out.push(relative(dataDir, abs).split(sep).join('/'));
    }
  };
  walk(dataDir);
  return out.sort();
}

/** A replicated path relative to `dataDir`, or null for a file replication ignores. */
export function replicatedPath(dataDir: string, abs: string): string | null {
  const rel = relative(dataDir, abs).split(sep).join('/');
  if (rel.startsWith('..') || rel === LOCK_FILE || rel.split('/').some((p) => p.startsWith('.'))) return null;
  return rel;
}

/** Size and crc32 of every replicated file (a follower's side of catch-up). */
export function indexFiles(dataDir: string): FileIndex {
  const index: FileIndex = {};
  for (const rel of replicatedFiles(dataDir)) {
    try {
      const data = readFileSync(join(dataDir, rel));
      index[rel] = { size: data.length, crc: crc32(data) };
    } catch {
      // gone meanwhile: the leader sends it whole
    }
  }
  return index;
}

/** True when `rel` stays inside the data directory (a follower refuses anything else). */
export function isSafeRelativePath(rel: string): boolean {
  return rel.length > 0 && !rel.startsWith('/') && !rel.split('/').some((p) => p === '..' || p === '' || p.startsWith('.'));
}
