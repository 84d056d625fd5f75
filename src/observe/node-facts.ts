import { readdir, readFile, statfs } from 'node:fs/promises';

/**
 * Process and host facts for /api/nodes and the metrics, read from the OS on
 * demand (Linux /proc where available; elsewhere they report 0).
 */

/** File descriptors the process has open. */
export async function openFileDescriptors(): Promise<number> {
  try {
    return (await readdir('/proc/self/fd')).length;
  } catch {
    return 0;
  }
}

/** The soft limit on open files ("Max open files" in /proc/self/limits). */
export async function fileDescriptorLimit(): Promise<number> {
  try {
    const text = await readFile('/proc/self/limits', 'utf8');
    const m = /^Max open files\s+(\d+|unlimited)/m.exec(text);
    if (!m) return 0;
    return m[1] === 'unlimited' ? Number.MAX_SAFE_INTEGER : Number(m[1]);
  } catch {
    return 0;
  }
}

/** Bytes available to the process on the file system holding `path`. */
export async function diskFree(path: string): Promise<number> {
  try {
    const s = await statfs(path);
    return s.bavail * s.bsize;
  } catch {
    return 0;
  }
}
