/**
 * Frame encoding: method, content header, body and heartbeat frames, written
 * into a ByteWriter. Bodies are appended by reference and split at frame_max.
 */
import { Constants } from './generated/constants.js';
import { encodeMethodPayload, MethodId, type MethodInit } from './generated/methods.js';
import { encodeProperties, type BasicProperties } from './generated/properties.js';
import { FRAME_OVERHEAD } from './frame-reader.js';
import type { ByteWriter } from './writer.js';

const FRAME_END = Constants.FRAME_END;

/** Writes the 7-byte frame header with a size to patch; returns the mark of the size field. */
function beginFrame(w: ByteWriter, type: number, channel: number): number {
  w.ensure(7);
  w.buf[w.pos] = type;
  w.buf.writeUInt16BE(channel, w.pos + 1);
  w.pos += 3;
  const sizeMark = w.mark();
  w.pos += 4;
  return sizeMark;
}

function endFrame(w: ByteWriter, sizeMark: number): void {
  w.patchU32(sizeMark, w.mark() - sizeMark - 4);
  w.u8(FRAME_END);
}

export function writeMethodFrame(w: ByteWriter, channel: number, method: MethodInit): void {
  const mark = beginFrame(w, Constants.FRAME_METHOD, channel);
  encodeMethodPayload(w, method);
  endFrame(w, mark);
}

/** A content header frame from properties. */
export function writeHeaderFrame(w: ByteWriter, channel: number, classId: number, bodySize: number, properties: BasicProperties): void {
  const mark = beginFrame(w, Constants.FRAME_HEADER, channel);
  w.u16(classId);
  w.u16(0); // weight: unused, always 0
  w.u64(bodySize);
  encodeProperties(w, properties);
  endFrame(w, mark);
}

/** A content header frame re-emitting a received header payload (class, weight, size, flags, properties) as is. */
export function writeRawHeaderFrame(w: ByteWriter, channel: number, headerPayload: Buffer): void {
  const mark = beginFrame(w, Constants.FRAME_HEADER, channel);
  w.bytes(headerPayload);
  endFrame(w, mark);
}

/**
 * Body frames for `body` (given as the chunks it arrived in), each carrying at
 * most frame_max − 8 bytes. Body bytes are appended by reference, never copied.
 */
export function writeBodyFrames(w: ByteWriter, channel: number, body: Buffer | readonly Buffer[], frameMax: number): void {
  const maxPayload = frameMax === 0 ? Number.MAX_SAFE_INTEGER : frameMax - FRAME_OVERHEAD;
  const chunks = Buffer.isBuffer(body) ? [body] : body;
  let total = 0;
  for (const c of chunks) total += c.length;
  let chunkIndex = 0;
  let chunkOffset = 0;
  while (total > 0) {
    const frameSize = Math.min(total, maxPayload);
    w.ensure(7);
    w.buf[w.pos] = Constants.FRAME_BODY;
    w.buf.writeUInt16BE(channel, w.pos + 1);
    w.buf.writeUInt32BE(frameSize, w.pos + 3);
    w.pos += 7;
    let left = frameSize;
    while (left > 0) {
      const chunk = chunks[chunkIndex]!;
      const take = Math.min(left, chunk.length - chunkOffset);
      w.appendRef(take === chunk.length ? chunk : chunk.subarray(chunkOffset, chunkOffset + take));
      left -= take;
      chunkOffset += take;
      if (chunkOffset === chunk.length) {
        chunkIndex++;
        chunkOffset = 0;
      }
    }
    w.u8(FRAME_END);
    total -= frameSize;
  }
}

/** A heartbeat frame (type 8, channel 0, empty payload). Shared and immutable: never write into it. */
export const HEARTBEAT_FRAME: Buffer = Buffer.from([Constants.FRAME_HEARTBEAT, 0, 0, 0, 0, 0, 0, Constants.FRAME_END]);

export function writeHeartbeat(w: ByteWriter): void {
  w.bytes(HEARTBEAT_FRAME);
}

/**
 * basic.deliver frames from a template: consecutive deliveries to one
 * consumer usually share consumer tag, exchange and routing key, so the
 * encoded method frame is kept and only the delivery tag and redelivered flag
 * are patched into a copy of it. Anything else re-encodes (and re-templates).
 */
export class DeliverTemplate {
  private frame: Buffer | null = null;
  private consumerTag = '';
  private exchange = '';
  private routingKey = '';
  /** Offset of the delivery tag (u64) in the frame; the redelivered octet follows it. */
  private tagAt = 0;

  write(w: ByteWriter, channel: number, consumerTag: string, deliveryTag: number, redelivered: boolean, exchange: string, routingKey: string): void {
    let frame = this.frame;
    if (frame === null || consumerTag !== this.consumerTag || exchange !== this.exchange || routingKey !== this.routingKey) {
      const start = w.mark();
      writeMethodFrame(w, channel, { id: MethodId.BasicDeliver, args: { consumerTag, deliveryTag, redelivered, exchange, routingKey } });
      const end = w.mark();
      // The bytes just written, copied out as the template (a mark is relative to the unsent segment).
      frame = Buffer.from(w.buf.subarray(w.pos - (end - start), w.pos));
      this.frame = frame;
      this.consumerTag = consumerTag;
      this.exchange = exchange;
      this.routingKey = routingKey;
      this.tagAt = 7 + 4 + 1 + frame[11]!;
      return;
    }
    const len = frame.length;
    w.ensure(len);
    const at = w.pos;
    frame.copy(w.buf, at);
    const tagAt = at + this.tagAt;
    w.buf.writeUInt32BE(Math.floor(deliveryTag / 0x1_0000_0000), tagAt);
    w.buf.writeUInt32BE(deliveryTag >>> 0, tagAt + 4);
    w.buf[tagAt + 8] = redelivered ? 1 : 0;
    w.pos = at + len;
  }
}
