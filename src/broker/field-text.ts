/**
 * Field values as text for error replies ("received the value '…'"): JSON
 * for tables and arrays, as Warren has always shown them, but written
 * without recursion and cut off once long enough — a reply text is a
 * shortstr (255 bytes), and a client may send a table nested tens of
 * thousands deep, which JSON.stringify cannot walk.
 */
import { Decimal, Typed, type FieldValue } from '../protocol/index.js';

/** Past this many characters the text ends in "..." (the reply is truncated to 255 bytes anyway). */
const MAX_CHARS = 300;

/** One open table or array: its entries and the next one to write. */
interface Open {
  keys: string[] | null;
  values: FieldValue[];
  next: number;
}

function scalarText(v: FieldValue): string | null {
  if (v === null || v === undefined) return 'null';
  switch (typeof v) {
    case 'string': return JSON.stringify(v);
    case 'number': return Number.isFinite(v) ? String(v) : 'null';
    case 'bigint': return String(v);
    case 'boolean': return String(v);
    default:
  }
  if (v instanceof Date) return JSON.stringify(v);
  if (Buffer.isBuffer(v)) return JSON.stringify(v);
  if (v instanceof Decimal) return JSON.stringify({ scale: v.scale, value: v.value });
  return null;
}

function opened(v: FieldValue): Open {
  if (Array.isArray(v)) return { keys: null, values: v, next: 0 };
  const t = v as Record<string, FieldValue>;
  const keys = Object.keys(t).filter((k) => t[k] !== undefined);
  return { keys, values: keys.map((k) => t[k]), next: 0 };
}

/** `value` as (possibly cut) JSON text. */
export function fieldValueText(value: FieldValue): string {
  let out = '';
  const stack: Open[] = [];
  let pending: FieldValue = value;
  let have = true;
  while (out.length <= MAX_CHARS) {
    if (have) {
      have = false;
      const v: FieldValue = pending;
      if (v instanceof Typed) {
        // {"type":"s","value":…}: the wrapped value follows as the next entry.
        out += `{"type":${JSON.stringify(v.type)},"value":`;
        stack.push({ keys: [], values: [], next: 0 });
        pending = v.value;
        have = true;
        continue;
      }
      const text = scalarText(v);
      if (text !== null) {
        out += text;
      } else {
        out += Array.isArray(v) ? '[' : '{';
        stack.push(opened(v));
      }
    }
    const top = stack[stack.length - 1];
    if (top === undefined) return out;
    if (top.next < top.values.length) {
      if (top.next > 0) out += ',';
      if (top.keys !== null) out += `${JSON.stringify(top.keys[top.next])}:`;
      pending = top.values[top.next++];
      have = true;
    } else {
      stack.pop();
      out += top.keys === null ? ']' : '}';
    }
  }
  return `${out.slice(0, MAX_CHARS)}...`;
}
