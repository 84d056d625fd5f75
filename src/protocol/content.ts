/**
 * Content headers. The broker keeps a received header payload as raw bytes
 * and re-emits it on delivery; properties are decoded only when something
 * needs them.
 */
import { Cursor } from './cursor.js';
import { syntaxError } from './errors.js';
import { decodeProperties, encodeProperties, type BasicProperties } from './generated/properties.js';
import { ByteWriter } from './writer.js';

/** class-id (2) + weight (2) + body-size (8) + property-flags (2). */
export const CONTENT_HEADER_MIN = 14;

export function contentClassId(payload: Buffer): number {
  if (payload.length < CONTENT_HEADER_MIN) throw syntaxError(`content header too short (${payload.length} bytes)`);
  return payload.readUInt16BE(0);
}

/** The body size a content header announces (exact up to 2^53). */
export function contentBodySize(payload: Buffer): number {
  if (payload.length < CONTENT_HEADER_MIN) throw syntaxError(`content header too short (${payload.length} bytes)`);
  return payload.readUInt32BE(4) * 0x1_0000_0000 + payload.readUInt32BE(8);
}

/** Decodes the properties of a raw content header payload. */
export function decodeContentProperties(payload: Buffer): BasicProperties {
  return decodeProperties(new Cursor(payload, 12, payload.length));
}

/** Encodes a content header payload (class, weight 0, body size, properties): for messages the broker rewrites. */
export function encodeContentHeader(bodySize: number, properties: BasicProperties, classId = 60): Buffer {
  const w = new ByteWriter(128 + (properties.headers ? 256 : 0));
  w.u16(classId);
  w.u16(0);
  w.u64(bodySize);
  encodeProperties(w, properties);
  return Buffer.from(w.take());
}

/**
 * Checks that a content header's property list decodes — exactly what
 * `decodeContentProperties` accepts — without building it: flags (and
 * continuation words), then every present property skipped by its length,
 * field tables walked value by value (type tags, nested tables and arrays).
 * Throws the decoder's 502 SYNTAX_ERROR. No allocation: it runs for every
 * published message, so that bytes a consumer could not decode are never
 * stored or relayed (properties themselves stay lazily decoded).
 */
export function checkContentProperties(payload: Buffer): void {
  const c = scratch;
  c.buf = payload;
  c.pos = 12;
  c.end = payload.length;
  try {
    let flags = c.u16();
    const first = flags;
    while (flags & 1) flags = c.u16();
    if (first & 0x8000) skipShortstr(c); // content-type
    if (first & 0x4000) skipShortstr(c); // content-encoding
    if (first & 0x2000) skipTable(c); // headers
    if (first & 0x1000) c.need(1); // delivery-mode
    if (first & 0x0800) c.need(1); // priority
    for (let bit = 0x0400; bit >= 0x0080; bit >>= 1) if (first & bit) skipShortstr(c); // correlation-id, reply-to, expiration, message-id
    if (first & 0x0040) c.need(8); // timestamp
    for (let bit = 0x0020; bit >= 0x0004; bit >>= 1) if (first & bit) skipShortstr(c); // type, user-id, app-id, cluster-id
  } finally {
    c.buf = EMPTY;
  }
}

const EMPTY = Buffer.alloc(0);
const scratch = new Cursor(EMPTY);

function skipShortstr(c: Cursor): void {
  c.need(c.u8());
}

/**
 * Where each container enclosing the one being skipped ends, times two, plus
 * one for an array: an explicit stack (reused, so skipping allocates nothing
 * once it has grown) rather than recursion, because a peer may nest tables as
 * deep as a frame allows.
 */
const enclosing: number[] = [];

/** Skips a table: a u32 length, then key/value pairs (values only, in nested arrays) filling it exactly. */
function skipTable(c: Cursor): void {
  const len = c.u32();
  const start = c.need(len);
  const outerEnd = c.end;
  const base = enclosing.length;
  c.pos = start;
  c.end = start + len;
  let inArray = false;
  try {
    for (;;) {
      while (c.pos < c.end) {
        if (!inArray) skipShortstr(c);
        const tag = c.u8();
        if (tag !== 0x46 /* F */ && tag !== 0x41 /* A */) {
          skipScalar(c, tag);
          continue;
        }
        const n = c.u32();
        const childStart = c.need(n);
        enclosing.push(c.end * 2 + (inArray ? 1 : 0));
        c.pos = childStart;
        c.end = childStart + n;
        inArray = tag === 0x41;
      }
      if (enclosing.length === base) return;
      const saved = enclosing.pop()!;
      c.end = Math.floor(saved / 2);
      inArray = saved % 2 === 1;
    }
  } finally {
    c.end = outerEnd;
    // After an error part-way down, or a very deep table, leave the stack as it was (and small).
    enclosing.length = base;
  }
}

/** Skips a value of any type but table and array, its tag already read. */
function skipScalar(c: Cursor, tag: number): void {
  switch (tag) {
    case 0x74 /* t */: case 0x62 /* b */: case 0x42 /* B */: c.need(1); return;
    case 0x73 /* s */: case 0x75 /* u */: c.need(2); return;
    case 0x49 /* I */: case 0x69 /* i */: case 0x66 /* f */: c.need(4); return;
    case 0x6c /* l */: case 0x4c /* L */: case 0x64 /* d */: case 0x54 /* T */: c.need(8); return; // 'L' = 'l' (RabbitMQ; py-amqp writes it)
    case 0x44 /* D */: c.need(5); return;
    case 0x53 /* S */: case 0x78 /* x */: c.need(c.u32()); return;
    case 0x56 /* V */: return;
    default:
      throw syntaxError(`unknown field-table value type 0x${tag.toString(16).padStart(2, '0')} at offset ${c.pos - 1}`);
  }
}
