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
