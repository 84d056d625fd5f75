/**
 * AMQP field tables and arrays, with the type tags RabbitMQ actually uses
 * (the 0-9-1 errata table, not the original spec text):
 *
 *   t bool · b int8 · B uint8 · s int16 · u uint16 · I int32 · i uint32 ·
 *   l int64 · f float32 · d float64 · D decimal · S longstr · A array ·
 *   T timestamp (uint64 seconds) · F table · V void · x byte array
 *
 * Decoding yields natural JS values: integers → number (int64 outside the
 * safe-integer range → bigint), S → string, x → Buffer, T → Date, D → Decimal,
 * V → null. Encoding infers a tag from the JS type (see `encodeFieldValue`);
 * wrap a value in `Typed` to force a particular tag.
 */
import { Cursor } from './cursor.js';
import { syntaxError } from './errors.js';
import { ByteWriter } from './writer.js';

export type FieldTypeTag = 't' | 'b' | 'B' | 's' | 'u' | 'I' | 'i' | 'l' | 'f' | 'd' | 'D' | 'S' | 'A' | 'T' | 'F' | 'V' | 'x';

/**
 * An AMQP decimal: `value / 10^scale`, scale an octet and value a uint32 (the
 * 0-9-1 grammar's `decimal-value = scale long-uint`, as RabbitMQ and amqplib
 * read and write it).
 */
export class Decimal {
  constructor(readonly scale: number, readonly value: number) {}
}

/** A value with an explicit type tag, for when inference would pick another. */
export class Typed {
  constructor(readonly type: FieldTypeTag, readonly value: FieldValue) {}
}

export type FieldValue =
  | boolean
  | number
  | bigint
  | string
  | Buffer
  | Date
  | Decimal
  | Typed
  | null
  | undefined
  | FieldValue[]
  | FieldTable;

export interface FieldTable {
  [key: string]: FieldValue;
}

// ---------------------------------------------------------------- decoding

/**
 * The type tag each value of a decoded table had on the wire. Decoding maps
 * several tags to one JS type (b s I l → number), but error texts name the
 * type the client sent, as RabbitMQ does ("of type 'short'").
 */
const wireTags = new WeakMap<FieldTable, Record<string, number>>();

/** RabbitMQ's names for the field types. */
const TYPE_NAMES: Readonly<Record<string, string>> = {
  t: 'bool', b: 'byte', B: 'unsignedbyte', s: 'short', u: 'unsignedshort', I: 'signedint', i: 'unsignedint',
  l: 'long', L: 'long', f: 'float', d: 'double', D: 'decimal', S: 'longstr', A: 'array', T: 'timestamp', F: 'table', V: 'void', x: 'binary',
};

/**
 * RabbitMQ's name for the type of `table[key]`: the tag it arrived with when
 * the table was decoded, else the tag Warren would encode it with.
 */
export function fieldTypeName(table: FieldTable, key: string): string {
  const tag = wireTags.get(table)?.[key];
  const letter = tag !== undefined ? String.fromCharCode(tag) : inferTag(table[key]);
  return TYPE_NAMES[letter] ?? 'unknown';
}

export function decodeTable(c: Cursor): FieldTable {
  const len = c.u32();
  const start = c.need(len);
  const inner = new Cursor(c.buf, start, start + len);
  const table: FieldTable = {};
  // Keyed by the peer's names: no prototype, so a "__proto__" key is an ordinary entry here too.
  const tags = Object.create(null) as Record<string, number>;
  while (inner.pos < inner.end) {
    const key = inner.shortstr();
    if (inner.pos < inner.end) tags[key] = inner.buf[inner.pos]!;
    const value = decodeFieldValue(inner);
    // A peer-chosen "__proto__" key must become an own property, not replace the prototype.
    if (key === '__proto__') Object.defineProperty(table, key, { value, enumerable: true, writable: true, configurable: true });
    else table[key] = value;
  }
  wireTags.set(table, tags);
  return table;
}

export function decodeArray(c: Cursor): FieldValue[] {
  const len = c.u32();
  const start = c.need(len);
  const inner = new Cursor(c.buf, start, start + len);
  const items: FieldValue[] = [];
  while (inner.pos < inner.end) items.push(decodeFieldValue(inner));
  return items;
}

export function decodeFieldValue(c: Cursor): FieldValue {
  const tag = c.u8();
  switch (tag) {
    case 0x74 /* t */: return c.u8() !== 0;
    case 0x62 /* b */: return c.i8();
    case 0x42 /* B */: return c.u8();
    case 0x73 /* s */: return c.i16();
    case 0x75 /* u */: return c.u16();
    case 0x49 /* I */: return c.i32();
    case 0x69 /* i */: return c.u32();
    case 0x4c /* L */: // RabbitMQ reads 'L' as a signed 64-bit int, like 'l'; py-amqp writes it for ints beyond int32
    case 0x6c /* l */: {
      const v = c.i64();
      return v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v;
    }
    case 0x66 /* f */: return c.f32();
    case 0x64 /* d */: return c.f64();
    case 0x44 /* D */: {
      const scale = c.u8();
      return new Decimal(scale, c.u32());
    }
    case 0x53 /* S */: return c.longstr();
    case 0x41 /* A */: return decodeArray(c);
    case 0x54 /* T */: return new Date(c.u64() * 1000);
    case 0x46 /* F */: return decodeTable(c);
    case 0x56 /* V */: return null;
    case 0x78 /* x */: return Buffer.from(c.longstrBytes());
    default:
      throw syntaxError(`unknown field-table value type 0x${tag.toString(16).padStart(2, '0')} at offset ${c.pos - 1}`);
  }
}

// ---------------------------------------------------------------- encoding

export function encodeTable(w: ByteWriter, table: FieldTable | undefined | null): void {
  const lengthAt = w.mark();
  w.u32(0);
  if (table) {
    for (const key of Object.keys(table)) {
      const value = table[key];
      if (value === undefined) continue;
      w.shortstr(key);
      encodeFieldValue(w, value);
    }
  }
  w.patchU32(lengthAt, w.mark() - lengthAt - 4);
}

export function encodeArray(w: ByteWriter, items: readonly FieldValue[]): void {
  const lengthAt = w.mark();
  w.u32(0);
  for (const item of items) encodeFieldValue(w, item);
  w.patchU32(lengthAt, w.mark() - lengthAt - 4);
}

/** The tag `encodeFieldValue` would choose for a value. */
export function inferTag(value: FieldValue): FieldTypeTag {
  if (value === null || value === undefined) return 'V';
  switch (typeof value) {
    case 'boolean': return 't';
    case 'string': return 'S';
    case 'bigint': return 'l';
    case 'number':
      if (Number.isInteger(value)) {
        if (value >= -0x8000_0000 && value <= 0x7fff_ffff) return 'I';
        // Integers outside int64 (only doubles can hold them) stay doubles.
        return value >= -(2 ** 63) && value < 2 ** 63 ? 'l' : 'd';
      }
      return 'd';
    default:
  }
  if (value instanceof Typed) return value.type;
  if (Buffer.isBuffer(value)) return 'x';
  if (value instanceof Date) return 'T';
  if (value instanceof Decimal) return 'D';
  if (Array.isArray(value)) return 'A';
  return 'F';
}

export function encodeFieldValue(w: ByteWriter, value: FieldValue): void {
  const tag = inferTag(value);
  const raw = value instanceof Typed ? value.value : value;
  w.u8(tag.charCodeAt(0));
  switch (tag) {
    case 't': w.u8(raw ? 1 : 0); break;
    case 'b': w.i8(Number(raw)); break;
    case 'B': w.u8(Number(raw)); break;
    case 's': w.i16(Number(raw)); break;
    case 'u': w.u16(Number(raw)); break;
    case 'I': w.i32(Number(raw)); break;
    case 'i': w.u32(Number(raw)); break;
    case 'l': w.i64(BigInt(raw as number | bigint)); break;
    case 'f': w.f32(Number(raw)); break;
    case 'd': w.f64(Number(raw)); break;
    case 'D': {
      const d = raw as Decimal;
      w.u8(d.scale);
      w.u32(d.value);
      break;
    }
    case 'S': w.longstr(typeof raw === 'string' ? raw : Buffer.isBuffer(raw) ? raw : String(raw)); break;
    case 'A': encodeArray(w, raw as FieldValue[]); break;
    case 'T': w.u64(raw instanceof Date ? Math.floor(raw.getTime() / 1000) : Number(raw)); break;
    case 'F': encodeTable(w, raw as FieldTable); break;
    case 'V': break;
    case 'x': w.longstr(raw as Buffer); break;
  }
}
