/**
 * Rebuilding a tree of field tables and arrays into another shape (JSON for
 * the management API and definitions export, and back), without recursion: a
 * client may nest tables as deep as a frame holds (tens of thousands of
 * levels), deeper than the call stack goes.
 */
import { Typed } from './fields.js';

/** What `mapFieldTree` does with one value that is neither a table nor an array. */
export type LeafMapper = (value: unknown) => unknown;

/** Returned by a LeafMapper to abandon the whole conversion (mapFieldTree then returns undefined). */
export const REJECT: unique symbol = Symbol('reject');

/** One container being rebuilt: where its entries come from, where they go, and the next one. */
interface Open {
  keys: string[] | null;
  from: Record<string, unknown> | unknown[];
  to: Record<string, unknown> | unknown[];
  next: number;
}

/**
 * Copies `root`, rebuilding arrays as arrays and tables (objects for which
 * `isTable` holds) as plain objects, and replacing every other value with
 * `leaf(value)`. Typed values are unwrapped first, unless `unwrapTyped` is
 * false (then they are leaves). Table entries whose value is undefined are
 * left out, as JSON does.
 */
export function mapFieldTree(root: unknown, isTable: (value: object) => boolean, leaf: LeafMapper, unwrapTyped = true): unknown {
  const open: Open[] = [];
  /** A container is opened (and returned empty, to be filled); anything else is mapped. */
  const start = (v: unknown): unknown => {
    const raw = unwrapTyped && v instanceof Typed ? v.value : v;
    if (Array.isArray(raw)) {
      const to: unknown[] = [];
      open.push({ keys: null, from: raw, to, next: 0 });
      return to;
    }
    if (raw !== null && typeof raw === 'object' && isTable(raw)) {
      const to: Record<string, unknown> = {};
      open.push({ keys: Object.keys(raw), from: raw as Record<string, unknown>, to, next: 0 });
      return to;
    }
    return leaf(raw);
  };
  const result = start(root);
  if (result === REJECT) return undefined;
  while (open.length > 0) {
    const top = open[open.length - 1]!;
    if (top.keys === null) {
      const from = top.from as unknown[];
      if (top.next >= from.length) {
        open.pop();
        continue;
      }
      const mapped = start(from[top.next++]);
      if (mapped === REJECT) return undefined;
      (top.to as unknown[]).push(mapped);
    } else {
      if (top.next >= top.keys.length) {
        open.pop();
        continue;
      }
      const key = top.keys[top.next++]!;
      const value = (top.from as Record<string, unknown>)[key];
      if (value === undefined) continue;
      const mapped = start(value);
      if (mapped === REJECT) return undefined;
      // defineProperty: a "__proto__" key stays an ordinary entry.
      Object.defineProperty(top.to, key, { value: mapped, enumerable: true, writable: true, configurable: true });
    }
  }
  return result;
}
