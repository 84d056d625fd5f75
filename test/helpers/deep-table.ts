/**
 * Deeply nested field tables for the depth tests, built and checked without
 * recursion (and without Warren's codec, for the bytes), so a test can go as
 * deep as a frame holds.
 *
 * The structure, `depth` containers in all: level 0 is a table; an even level
 * is a table { d: level (I), n: next level, z: "<level>" (S) }, an odd level an
 * array [ level (I), next level, "<level>" (S) ]; the last level has no `n`
 * (no middle item). Values after the nested one check that a decoder resumes
 * each container where its child ends.
 */
import type { FieldTable, FieldValue } from '../../src/protocol/index.js';

const isTableLevel = (level: number): boolean => level % 2 === 0;

/** The structure as JS values (what Warren's decoder yields for it). */
export function deepTable(depth: number): FieldTable {
  let inner: FieldTable | FieldValue[] | null = null;
  for (let level = depth - 1; level >= 0; level--) {
    if (isTableLevel(level)) {
      const t: FieldTable = { d: level };
      if (inner !== null) t['n'] = inner;
      t['z'] = String(level);
      inner = t;
    } else {
      inner = inner === null ? [level, String(level)] : [level, inner, String(level)];
    }
  }
  return inner as FieldTable;
}

/** Bytes of one container's own entries before and after the nested one (no length prefix). */
function ownSizes(level: number, last: boolean): { before: number; nested: number; after: number } {
  const text = Buffer.byteLength(String(level));
  if (isTableLevel(level)) {
    // "d" I int32 | "n" F/A u32 … | "z" S u32 text
    return { before: 2 + 1 + 4, nested: last ? 0 : 2 + 1 + 4, after: 2 + 1 + 4 + text };
  }
  // I int32 | F/A u32 … | S u32 text
  return { before: 1 + 4, nested: last ? 0 : 1 + 4, after: 1 + 4 + text };
}

/** The structure as AMQP field-table bytes, length prefix included (written by hand, not by Warren's encoder). */
export function deepTableBytes(depth: number): Buffer {
  // Content sizes from the innermost level out.
  const size = new Array<number>(depth);
  for (let level = depth - 1; level >= 0; level--) {
    const own = ownSizes(level, level === depth - 1);
    size[level] = own.before + own.nested + own.after + (level === depth - 1 ? 0 : size[level + 1]!);
  }
  const out = Buffer.alloc(4 + size[0]!);
  let p = out.writeUInt32BE(size[0]!, 0);
  const key = (k: string): void => {
    out[p++] = 1;
    out[p++] = k.charCodeAt(0);
  };
  for (let level = 0; level < depth; level++) {
    if (isTableLevel(level)) key('d');
    out[p++] = 0x49; // I
    p = out.writeInt32BE(level, p);
    if (level === depth - 1) break;
    if (isTableLevel(level)) key('n');
    out[p++] = isTableLevel(level + 1) ? 0x46 : 0x41; // F / A
    p = out.writeUInt32BE(size[level + 1]!, p);
  }
  for (let level = depth - 1; level >= 0; level--) {
    if (isTableLevel(level)) key('z');
    out[p++] = 0x53; // S
    const text = String(level);
    p = out.writeUInt32BE(Buffer.byteLength(text), p);
    p += out.write(text, p, 'latin1');
  }
  if (p !== out.length) throw new Error(`deepTableBytes: wrote ${p} of ${out.length} bytes`);
  return out;
}

/**
 * Checks that `value` is the structure of `depth` levels, iteratively.
 * Returns null when it is, else where and how it differs.
 */
export function deepTableMismatch(value: unknown, depth: number): string | null {
  let node: unknown = value;
  for (let level = 0; level < depth; level++) {
    const last = level === depth - 1;
    let d: unknown;
    let n: unknown;
    let z: unknown;
    if (isTableLevel(level)) {
      if (!node || typeof node !== 'object' || Array.isArray(node)) return `level ${level}: not a table`;
      const t = node as Record<string, unknown>;
      const keys = Object.keys(t).join(',');
      if (keys !== (last ? 'd,z' : 'd,n,z')) return `level ${level}: keys ${keys}`;
      ({ d, n, z } = t);
    } else {
      if (!Array.isArray(node)) return `level ${level}: not an array`;
      if (node.length !== (last ? 2 : 3)) return `level ${level}: ${node.length} items`;
      d = node[0];
      n = last ? undefined : node[1];
      z = node[node.length - 1];
    }
    if (d !== level) return `level ${level}: level number ${String(d)}`;
    if (z !== String(level)) return `level ${level}: text ${String(z)}`;
    node = n;
  }
  return null;
}

/** Bytes a table of `depth` levels takes (length prefix included), to size frame_max. */
export function deepTableSize(depth: number): number {
  let total = 4;
  for (let level = 0; level < depth; level++) {
    const own = ownSizes(level, level === depth - 1);
    total += own.before + own.nested + own.after;
  }
  return total;
}
