/**
 * JSON text for a reply body. JSON.stringify recurses and throws a RangeError
 * past a few thousand levels; a queue's arguments, a binding's or a client's
 * properties can be nested deeper (a frame holds tens of thousands of levels),
 * and one such object must not make every listing fail. Such values are
 * written by an iterative writer producing the same text.
 */
export function jsonText(value: unknown): string {
  try {
    return JSON.stringify(value);
  } catch (err) {
    if (!(err instanceof RangeError)) throw err;
  }
  return deepJsonText(value);
}

/** One open object or array: its entries and the next one to write. */
interface Open {
  keys: string[] | null;
  from: Record<string, unknown> | unknown[];
  next: number;
  wrote: boolean;
}

/** A scalar's JSON text; undefined for what JSON leaves out (undefined, functions, symbols). */
function scalarText(v: unknown): string | undefined {
  switch (typeof v) {
    case 'string': return JSON.stringify(v);
    case 'number': return Number.isFinite(v) ? String(v) : 'null';
    case 'boolean': return String(v);
    case 'bigint': throw new TypeError('Do not know how to serialize a BigInt');
    case 'object': return 'null'; // null
    default: return undefined;
  }
}

function deepJsonText(root: unknown): string {
  const out: string[] = [];
  const open: Open[] = [];
  /** Writes a value (opening it if it is an object or array); false when JSON leaves it out. */
  const write = (raw: unknown): boolean => {
    const v = raw !== null && typeof raw === 'object' && typeof (raw as { toJSON?: unknown }).toJSON === 'function' ? (raw as { toJSON(): unknown }).toJSON() : raw;
    if (v !== null && typeof v === 'object') {
      const isArray = Array.isArray(v);
      out.push(isArray ? '[' : '{');
      open.push({ keys: isArray ? null : Object.keys(v), from: v as Record<string, unknown> | unknown[], next: 0, wrote: false });
      return true;
    }
    const text = scalarText(v);
    if (text === undefined) return false;
    out.push(text);
    return true;
  };
  write(root);
  while (open.length > 0) {
    const top = open[open.length - 1]!;
    const count = top.keys === null ? (top.from as unknown[]).length : top.keys.length;
    if (top.next >= count) {
      out.push(top.keys === null ? ']' : '}');
      open.pop();
      continue;
    }
    const i = top.next++;
    if (top.keys === null) {
      if (top.wrote) out.push(',');
      top.wrote = true;
      if (!write((top.from as unknown[])[i])) out.push('null');
    } else {
      const key = top.keys[i]!;
      const value = (top.from as Record<string, unknown>)[key];
      const at = out.length;
      out.push(`${top.wrote ? ',' : ''}${JSON.stringify(key)}:`);
      if (write(value)) top.wrote = true;
      else out.length = at; // left out, as JSON.stringify does
    }
  }
  return out.join('');
}
