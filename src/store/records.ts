/**
 * Message-log records. Every record is framed as
 *
 *   u32 payload length · u32 crc32(payload) · payload
 *
 * and the payload starts with a type octet:
 *
 *   PUBLISH   1 · u8 flags · u64 msgId · u16 n · n × u32 queueId · u64 publishedAt (ms) ·
 *               u32 message TTL (ms, 0xffffffff = none) · shortstr exchange · shortstr routingKey ·
 *               u32 len + content header · u32 len + body
 *   ACK       2 · u32 queueId · u64 msgId
 *   DELIVERED 3 · u32 queueId · u64 msgId
 *
 * A crash can leave a torn last record; its checksum (or missing bytes) tells.
 */
import { crc32 } from 'node:zlib';

export const RecordType = { Publish: 1, Ack: 2, Delivered: 3 } as const;
/** PUBLISH flag: the message is persistent (recovered after restart); otherwise only paged to disk. */
export const FLAG_PERSISTENT = 1;
export const RECORD_FRAME = 8;
/** No per-message TTL (the `expiration` property was absent). */
export const NO_TTL = 0xffff_ffff;

function writeU64(b: Buffer, v: number, at: number): void {
  b.writeUInt32BE(Math.floor(v / 0x1_0000_0000), at);
  b.writeUInt32BE(v >>> 0, at + 4);
}

export function readU64(b: Buffer, at: number): number {
  return b.readUInt32BE(at) * 0x1_0000_0000 + b.readUInt32BE(at + 4);
}

export interface EncodedPublish {
  /** Frame + payload up to (not including) the body. */
  head: Buffer;
  /** The body chunks, written after `head` by reference. */
  body: readonly Buffer[];
  /** Total record length (head + body). */
  length: number;
  /** Offset of the body within the record. */
  bodyOffset: number;
}

export interface PublishMeta {
  msgId: number;
  flags: number;
  queueIds: readonly number[];
  /** When the broker received it (ms since the epoch): TTLs count from here, also after a restart. */
  publishedAt: number;
  /** The message's own TTL in ms, or NO_TTL. */
  ttl: number;
}

export function encodePublish(meta: PublishMeta, exchange: string, routingKey: string, header: Buffer, body: Buffer | readonly Buffer[], bodySize: number): EncodedPublish {
  const { msgId, flags, queueIds } = meta;
  const exLen = Buffer.byteLength(exchange);
  const rkLen = Buffer.byteLength(routingKey);
  const headLen = RECORD_FRAME + 1 + 1 + 8 + 2 + 4 * queueIds.length + 8 + 4 + 1 + exLen + 1 + rkLen + 4 + header.length + 4;
  const head = Buffer.allocUnsafe(headLen);
  let p = RECORD_FRAME;
  head[p++] = RecordType.Publish;
  head[p++] = flags;
  writeU64(head, msgId, p);
  p += 8;
  head.writeUInt16BE(queueIds.length, p);
  p += 2;
  for (const id of queueIds) p = head.writeUInt32BE(id, p);
  writeU64(head, meta.publishedAt, p);
  p += 8;
  p = head.writeUInt32BE(meta.ttl, p);
  head[p++] = exLen;
  p += head.write(exchange, p, 'utf8');
  head[p++] = rkLen;
  p += head.write(routingKey, p, 'utf8');
  p = head.writeUInt32BE(header.length, p);
  p += header.copy(head, p);
  p = head.writeUInt32BE(bodySize, p);
  const chunks = Buffer.isBuffer(body) ? [body] : body;
  let crc = crc32(head.subarray(RECORD_FRAME));
  for (const c of chunks) crc = crc32(c, crc);
  head.writeUInt32BE(headLen - RECORD_FRAME + bodySize, 0);
  head.writeUInt32BE(crc, 4);
  return { head, body: chunks, length: headLen + bodySize, bodyOffset: headLen };
}

/** ACK or DELIVERED. */
export function encodeMark(type: number, queueId: number, msgId: number): Buffer {
  const b = Buffer.allocUnsafe(RECORD_FRAME + 13);
  b[RECORD_FRAME] = type;
  b.writeUInt32BE(queueId, RECORD_FRAME + 1);
  writeU64(b, msgId, RECORD_FRAME + 5);
  b.writeUInt32BE(13, 0);
  b.writeUInt32BE(crc32(b.subarray(RECORD_FRAME)), 4);
  return b;
}

export interface DecodedPublish {
  flags: number;
  msgId: number;
  queueIds: number[];
  publishedAt: number;
  ttl: number;
  exchange: string;
  routingKey: string;
  header: Buffer;
  body: Buffer;
}

/** Decodes a PUBLISH payload (after the frame). Slices share `payload`'s memory. */
export function decodePublish(payload: Buffer): DecodedPublish {
  let p = 1;
  const flags = payload[p++]!;
  const msgId = readU64(payload, p);
  p += 8;
  const n = payload.readUInt16BE(p);
  p += 2;
  const queueIds: number[] = [];
  for (let i = 0; i < n; i++, p += 4) queueIds.push(payload.readUInt32BE(p));
  const publishedAt = readU64(payload, p);
  p += 8;
  const ttl = payload.readUInt32BE(p);
  p += 4;
  const exLen = payload[p++]!;
  const exchange = payload.toString('utf8', p, p + exLen);
  p += exLen;
  const rkLen = payload[p++]!;
  const routingKey = payload.toString('utf8', p, p + rkLen);
  p += rkLen;
  const hLen = payload.readUInt32BE(p);
  p += 4;
  const header = payload.subarray(p, p + hLen);
  p += hLen;
  const bLen = payload.readUInt32BE(p);
  p += 4;
  return { flags, msgId, queueIds, publishedAt, ttl, exchange, routingKey, header, body: payload.subarray(p, p + bLen) };
}

/** Why one framed record read back is not what was written (null: it is intact). */
export function recordProblem(rec: Buffer): string | null {
  if (rec.length < RECORD_FRAME || rec.readUInt32BE(0) !== rec.length - RECORD_FRAME) return 'length does not match';
  if (crc32(rec.subarray(RECORD_FRAME)) !== rec.readUInt32BE(4)) return 'checksum mismatch';
  return null;
}

export type ScanResult = { ok: true } | { ok: false; offset: number; reason: string };

/**
 * Walks the records of one segment image, calling `onRecord(type, payload, offset)`.
 * Stops at the first torn or corrupt record and reports where.
 */
export function scanRecords(buf: Buffer, onRecord: (type: number, payload: Buffer, offset: number) => void): ScanResult {
  let pos = 0;
  while (pos < buf.length) {
    if (pos + RECORD_FRAME > buf.length) return { ok: false, offset: pos, reason: 'truncated record frame' };
    const len = buf.readUInt32BE(pos);
    const end = pos + RECORD_FRAME + len;
    if (len === 0 || end > buf.length) return { ok: false, offset: pos, reason: `truncated record (needs ${len} bytes)` };
    const payload = buf.subarray(pos + RECORD_FRAME, end);
    if (crc32(payload) !== buf.readUInt32BE(pos + 4)) return { ok: false, offset: pos, reason: 'checksum mismatch' };
    onRecord(payload[0]!, payload, pos);
    pos = end;
  }
  return { ok: true };
}
