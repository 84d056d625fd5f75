/**
 * Allocation-free reads of a raw content-header payload (class-id, weight,
 * body-size, property flags, properties), for the hot path: which properties
 * are present, the delivery mode, and whether the headers table may hold a
 * key. Everything else decodes the properties (decodeContentProperties).
 */
import { PropertyFlag } from './generated/properties.js';

/** Offset of the first property-flags word. */
const FLAGS_AT = 12;
/** class-id (2) + weight (2) + body-size (8) + property-flags (2). */
const MIN_LENGTH = 14;

/** The first property-flags word (0 for a header too short to hold one). */
export function propertyFlags(header: Buffer): number {
  return header.length < MIN_LENGTH ? 0 : header.readUInt16BE(FLAGS_AT);
}

/** Whether the property `flag` (a PropertyFlag) is present. */
export function hasProperty(header: Buffer, flag: number): boolean {
  return (propertyFlags(header) & flag) !== 0;
}

/**
 * The delivery-mode octet, or 0 when absent. It follows content-type,
 * content-encoding and headers, so only their lengths are skipped.
 */
export function deliveryMode(header: Buffer): number {
  const flags = propertyFlags(header);
  if ((flags & PropertyFlag.DeliveryMode) === 0) return 0;
  let p = MIN_LENGTH;
  // Continuation flag words (properties we do not know) follow the first one.
  for (let word = flags; word & 1; p += 2) word = header.readUInt16BE(p);
  if (flags & PropertyFlag.ContentType) p += 1 + header[p]!;
  if (flags & PropertyFlag.ContentEncoding) p += 1 + header[p]!;
  if (flags & PropertyFlag.Headers) p += 4 + header.readUInt32BE(p);
  return p < header.length ? header[p]! : 0;
}

/** A header-table key as it appears on the wire (a shortstr), for `mayHaveHeader`. */
export function encodedHeaderKey(name: string): Buffer {
  const key = Buffer.from(name, 'utf8');
  return Buffer.concat([Buffer.from([key.length]), key]);
}

/**
 * Cheap pre-check: could the headers table hold `key` (from encodedHeaderKey)?
 * False means certainly not; true means decode the properties to know.
 */
export function mayHaveHeader(header: Buffer, key: Buffer): boolean {
  if (!hasProperty(header, PropertyFlag.Headers)) return false;
  return header.indexOf(key, MIN_LENGTH) >= 0;
}
