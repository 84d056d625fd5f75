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
  return decodeNested(c, true) as FieldTable;
}

export function decodeArray(c: Cursor): FieldValue[] {
  return decodeNested(c, false) as FieldValue[];
}

export function decodeFieldValue(c: Cursor): FieldValue {
  const tag = c.u8();
  if (tag === TAG_TABLE) return decodeNested(c, true);
  if (tag === TAG_ARRAY) return decodeNested(c, false);
  return decodeScalar(c, tag);
}

// Keyed by the peer's names: no prototype, so a "__proto__" key is an ordinary entry here too.
const newTags = (): Record<string, number> => Object.create(null) as Record<string, number>;

const TAG_TABLE = 0x46; // 'F'
const TAG_ARRAY = 0x41; // 'A'

/** A table or array being filled, saved while a value nested in it is decoded. */
interface OpenContainer {
  table: FieldTable | null;
  array: FieldValue[] | null;
  tags: Record<string, number> | null;
  /** Where its bytes end (the cursor's `end` while filling it). */
  end: number;
}

/**
 * Decodes a length-prefixed table (or array) with every table and array
 * nested in it, without recursion: a peer may nest as deep as a frame allows
 * (RabbitMQ accepts tens of thousands of levels), so the open containers live
 * on an explicit stack rather than the call stack. A flat table, the usual
 * case, allocates nothing but itself, its tag record and one cursor, whose
 * `end` is narrowed to the container being filled so no read runs past it.
 */
function decodeNested(outer: Cursor, isTable: boolean): FieldTable | FieldValue[] {
  const len = outer.u32();
  const start = outer.need(len);
  const c = new Cursor(outer.buf, start, start + len);
  let table: FieldTable | null = null;
  let array: FieldValue[] | null = null;
  let tags: Record<string, number> | null = null;
  if (isTable) {
    table = {};
    tags = newTags();
    wireTags.set(table, tags);
  } else {
    array = [];
  }
  const root = isTable ? table! : array!;
  let open: OpenContainer[] | null = null;
  for (;;) {
    while (c.pos < c.end) {
      const key = table !== null ? c.shortstr() : '';
      const tag = c.u8();
      if (tags !== null) tags[key] = tag;
      let value: FieldValue;
      let child: OpenContainer | null = null;
      if (tag === TAG_TABLE || tag === TAG_ARRAY) {
        const n = c.u32();
        const childStart = c.need(n);
        (open ??= []).push({ table, array, tags, end: c.end });
        if (tag === TAG_TABLE) {
          const t: FieldTable = {};
          const childTags = newTags();
          wireTags.set(t, childTags);
          value = t;
          child = { table: t, array: null, tags: childTags, end: childStart + n };
        } else {
          const a: FieldValue[] = [];
          value = a;
          child = { table: null, array: a, tags: null, end: childStart + n };
        }
        c.pos = childStart;
      } else {
        value = decodeScalar(c, tag);
      }
      if (table !== null) {
        // A peer-chosen "__proto__" key must become an own property, not replace the prototype.
        if (key === '__proto__') Object.defineProperty(table, key, { value, enumerable: true, writable: true, configurable: true });
        else table[key] = value;
      } else {
        array!.push(value);
      }
      if (child !== null) {
        // Descend: fill the child first; its parent resumes where the child's bytes end.
        table = child.table;
        array = child.array;
        tags = child.tags;
        c.end = child.end;
      }
    }
    const parent = open?.pop();
    if (parent === undefined) return root;
    table = parent.table;
    array = parent.array;
    tags = parent.tags;
    c.end = parent.end;
  }
}

/** A value of any type but table and array, its tag already read. */
function decodeScalar(c: Cursor, tag: number): FieldValue {
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
    case 0x54 /* T */: return new Date(c.u64() * 1000);
    case 0x56 /* V */: return null;
    case 0x78 /* x */: return Buffer.from(c.longstrBytes());
    default:
      throw syntaxError(`unknown field-table value type 0x${tag.toString(16).padStart(2, '0')} at offset ${c.pos - 1}`);
  }
}

// ---------------------------------------------------------------- encoding

export function encodeTable(w: ByteWriter, table: FieldTable | undefined | null): void {
  encodeNested(w, table ?? null, true, false);
}

/**
 * A table with the keys of it and of every table nested in it in sorted
 * order: equal tables give equal bytes whatever order their keys were set in
 * (binding identity).
 */
export function encodeTableSorted(w: ByteWriter, table: FieldTable | undefined | null): void {
  encodeNested(w, table ?? null, true, true);
}

export function encodeArray(w: ByteWriter, items: readonly FieldValue[]): void {
  encodeNested(w, items, false, false);
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
  if (tag === 'F') {
    w.u8(TAG_TABLE);
    encodeNested(w, raw as FieldTable | null, true, false);
  } else if (tag === 'A') {
    w.u8(TAG_ARRAY);
    encodeNested(w, raw as FieldValue[], false, false);
  } else {
    encodeScalar(w, tag, raw);
  }
}

/** A table or array being written, saved while a value nested in it is written. */
interface WritingContainer {
  /** Where its length goes (a `ByteWriter.mark()`). */
  lengthAt: number;
  table: FieldTable | null;
  keys: string[] | null;
  items: readonly FieldValue[] | null;
  /** The next key or item to write. */
  next: number;
}

const keysOf = (table: FieldTable | null, sorted: boolean): string[] => (table ? (sorted ? Object.keys(table).sort() : Object.keys(table)) : []);

/**
 * Writes a table (or array) with everything nested in it, without recursion
 * (the mirror of `decodeNested`: a table as deep as a frame holds can be
 * re-encoded, e.g. when a message is dead-lettered). Each length is written as
 * 0 and patched once its contents are out.
 */
function encodeNested(w: ByteWriter, root: FieldTable | readonly FieldValue[] | null, isTable: boolean, sorted: boolean): void {
  let lengthAt = w.mark();
  w.u32(0);
  let table: FieldTable | null = isTable ? (root as FieldTable | null) : null;
  let keys: string[] | null = isTable ? keysOf(table, sorted) : null;
  let items: readonly FieldValue[] | null = isTable ? null : (root as readonly FieldValue[]);
  let next = 0;
  let open: WritingContainer[] | null = null;
  for (;;) {
    while (next < (keys !== null ? keys.length : items!.length)) {
      let value: FieldValue;
      if (keys !== null) {
        const key = keys[next++]!;
        value = table![key];
        if (value === undefined) continue;
        w.shortstr(key);
      } else {
        value = items![next++];
      }
      const tag = inferTag(value);
      const raw = value instanceof Typed ? value.value : value;
      if (tag !== 'F' && tag !== 'A') {
        encodeScalar(w, tag, raw);
        continue;
      }
      // Descend: save where this container is, then write the child.
      w.u8(tag === 'F' ? TAG_TABLE : TAG_ARRAY);
      (open ??= []).push({ lengthAt, table, keys, items, next });
      lengthAt = w.mark();
      w.u32(0);
      next = 0;
      if (tag === 'F') {
        table = (raw as FieldTable | null) ?? null;
        keys = keysOf(table, sorted);
        items = null;
      } else {
        table = null;
        keys = null;
        items = raw as readonly FieldValue[];
      }
    }
    w.patchU32(lengthAt, w.mark() - lengthAt - 4);
    const parent = open?.pop();
    if (parent === undefined) return;
    ({ lengthAt, table, keys, items, next } = parent);
  }
}

/** Tag and value of any type but table and array. */
function encodeScalar(w: ByteWriter, tag: FieldTypeTag, raw: FieldValue): void {
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
    case 'T': w.u64(raw instanceof Date ? Math.floor(raw.getTime() / 1000) : Number(raw)); break;
    case 'V': break;
    case 'x': w.longstr(raw as Buffer); break;
    default: throw new RangeError(`field type '${tag}' is not a scalar`);
  }
}
