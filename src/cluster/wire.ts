/**
 * The replication stream's framing: `u32 length · u32 crc32(body) · body`,
 * body = `u8 type · fields`. A frame whose checksum does not match is
 * corruption: the reader throws, the connection is dropped and the follower
 * resynchronises from the file index when it reconnects.
 */
import { crc32 } from 'node:zlib';

export const enum FrameType {
  /** leader → follower: 32 random bytes the follower signs with the shared secret. */
  Challenge = 1,
  /** follower → leader: JSON { node, mac, index } (see Hello). */
  Hello = 2,
  /** leader → follower: f64 seq · f64 offset · f64 truncateTo (-1: keep size) · u16 path length · path · data. */
  Write = 3,
  /** leader → follower: f64 seq · u16 path length · path. */
  Delete = 4,
  /** leader → follower: f64 seq. "You have everything up to seq once you have applied what came before": catch-up end and heartbeat. */
  Mark = 5,
  /** follower → leader: f64 seq, everything up to it written (and synced when fsync is on). */
  Ack = 6,
  /** leader → follower: UTF-8 reason; the leader closes after it. */
  Refused = 7,
}

/** What a follower has: relative path → size and crc32 of the whole file. */
export type FileIndex = Record<string, { size: number; crc: number }>;

export interface Hello {
  node: string;
  /** hex HMAC-SHA256 of the challenge with the cluster secret. */
  mac: string;
  index: FileIndex;
}

export class CorruptFrameError extends Error {}

const MAX_FRAME = 256 * 1024 * 1024;

/** Encodes one frame; `chunks` follow `fields` in the body without being copied. */
export function frame(type: FrameType, fields: Buffer, chunks: readonly Buffer[] = []): Buffer[] {
  const head = Buffer.allocUnsafe(9);
  head[8] = type;
  let crc = crc32(head.subarray(8, 9));
  crc = crc32(fields, crc);
  let length = 1 + fields.length;
  for (const c of chunks) {
    // (Node 20's crc32 answers 0 for an empty buffer over a zero-length ArrayBuffer: skip empties.)
    if (c.length === 0) continue;
    crc = crc32(c, crc);
    length += c.length;
  }
  head.writeUInt32BE(length, 0);
  head.writeUInt32BE(crc, 4);
  return [head, fields, ...chunks];
}

export function seqFields(seq: number): Buffer {
  const b = Buffer.allocUnsafe(8);
  b.writeDoubleBE(seq, 0);
  return b;
}

export function writeFields(seq: number, offset: number, truncateTo: number, path: string): Buffer {
  const p = Buffer.from(path);
  const b = Buffer.allocUnsafe(26 + p.length);
  b.writeDoubleBE(seq, 0);
  b.writeDoubleBE(offset, 8);
  b.writeDoubleBE(truncateTo, 16);
  b.writeUInt16BE(p.length, 24);
  p.copy(b, 26);
  return b;
}

export function deleteFields(seq: number, path: string): Buffer {
  const p = Buffer.from(path);
  const b = Buffer.allocUnsafe(10 + p.length);
  b.writeDoubleBE(seq, 0);
  b.writeUInt16BE(p.length, 8);
  p.copy(b, 10);
  return b;
}

export interface DecodedFrame {
  type: FrameType;
  body: Buffer;
}

/**
 * Splits a byte stream into checked frames. Arriving chunks are kept in a
 * list until a whole frame is there, so a large frame arriving in many
 * socket reads is copied once (not once per read).
 */
export class FrameDecoder {
  private chunks: Buffer[] = [];
  private length = 0;
  /** Bytes the frame being received needs in all (0: its header is not complete yet). */
  private needed = 0;

  /** Every complete frame in what arrived so far; throws CorruptFrameError on a bad checksum or length. */
  push(data: Buffer): DecodedFrame[] {
    this.chunks.push(data);
    this.length += data.length;
    if (this.length < 8 || (this.needed > 0 && this.length < this.needed)) return [];
    const buffered = this.chunks.length === 1 ? this.chunks[0]! : Buffer.concat(this.chunks, this.length);
    const out: DecodedFrame[] = [];
    let at = 0;
    this.needed = 0;
    while (buffered.length - at >= 8) {
      const length = buffered.readUInt32BE(at);
      if (length < 1 || length > MAX_FRAME) throw new CorruptFrameError(`replication frame length ${length} is out of range`);
      if (buffered.length - at - 8 < length) {
        this.needed = 8 + length;
        break;
      }
      const crc = buffered.readUInt32BE(at + 4);
      const body = buffered.subarray(at + 8, at + 8 + length);
      if (crc32(body) !== crc) throw new CorruptFrameError('replication frame checksum mismatch');
      out.push({ type: body[0] as FrameType, body: body.subarray(1) });
      at += 8 + length;
    }
    const rest = buffered.subarray(at);
    this.chunks = rest.length > 0 ? [rest] : [];
    this.length = rest.length;
    return out;
  }
}

export function readPath(body: Buffer, at: number): { path: string; end: number } {
  const length = body.readUInt16BE(at);
  return { path: body.toString('utf8', at + 2, at + 2 + length), end: at + 2 + length };
}
