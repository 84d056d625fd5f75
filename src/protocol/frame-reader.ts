import { Constants } from './generated/constants.js';
import { frameError } from './errors.js';

/** `AMQP` 0 0 9 1: the only protocol header Warren speaks. */
export const PROTOCOL_HEADER = Buffer.from([0x41, 0x4d, 0x51, 0x50, 0, 0, 9, 1]);

const FRAME_HEADER_SIZE = 7;
/** Frame header (7) + frame-end octet (1). */
export const FRAME_OVERHEAD = 8;

export interface FrameHandler {
  /** The 8-byte protocol header arrived; `ok` is false when it is not AMQP 0-9-1. */
  onProtocolHeader(ok: boolean, header: Buffer): void;
  /** One complete frame. `payload` is a view into the received bytes (no copy). */
  onFrame(type: number, channel: number, payload: Buffer): void;
}

/**
 * Turns a TCP byte stream into frames, whatever the chunk boundaries.
 * Complete frames inside one chunk are handed out as views of that chunk; only
 * a frame split across chunks is assembled (one concatenation per frame).
 * Errors are thrown as AmqpError 501 FRAME_ERROR (bad frame-end, oversize frame, unknown frame type).
 */
export class FrameReader {
  /** Largest payload accepted: frame_max − 8 (0 = no limit). */
  maxPayload: number;
  private awaitingHeader = true;
  private parts: Buffer[] = [];
  private buffered = 0;
  /** Bytes needed before the buffered parts can make progress. */
  private needed = 0;
  private stopped = false;

  constructor(private readonly handler: FrameHandler, frameMax: number) {
    this.maxPayload = frameMax === 0 ? 0 : frameMax - FRAME_OVERHEAD;
  }

  setFrameMax(frameMax: number): void {
    this.maxPayload = frameMax === 0 ? 0 : frameMax - FRAME_OVERHEAD;
  }

  /** Stop delivering frames (the connection is closing); later input is dropped. */
  stop(): void {
    this.stopped = true;
    this.parts = [];
    this.buffered = 0;
  }

  /** Bytes received but not yet part of a complete frame. */
  get pendingBytes(): number {
    return this.buffered;
  }

  push(chunk: Buffer): void {
    if (this.stopped) return;
    if (this.parts.length > 0) {
      this.parts.push(chunk);
      this.buffered += chunk.length;
      if (this.buffered < this.needed) return;
      chunk = this.parts.length === 1 ? this.parts[0]! : Buffer.concat(this.parts, this.buffered);
      this.parts = [];
      this.buffered = 0;
    }
    let pos = 0;
    if (this.awaitingHeader) {
      pos = this.readProtocolHeader(chunk);
      if (pos < 0) return;
    }
    const len = chunk.length;
    const max = this.maxPayload;
    while (!this.stopped) {
      const remaining = len - pos;
      if (remaining < FRAME_HEADER_SIZE) {
        this.keep(chunk, pos, FRAME_HEADER_SIZE);
        return;
      }
      const type = chunk[pos]!;
      const channel = (chunk[pos + 1]! << 8) | chunk[pos + 2]!;
      const size = chunk.readUInt32BE(pos + 3);
      if (max !== 0 && size > max) {
        throw frameError(`frame size ${size + FRAME_OVERHEAD} exceeds frame_max ${max + FRAME_OVERHEAD}`);
      }
      if (type !== Constants.FRAME_METHOD && type !== Constants.FRAME_HEADER && type !== Constants.FRAME_BODY && type !== Constants.FRAME_HEARTBEAT) {
        throw frameError(`unknown frame type ${type}`);
      }
      const total = size + FRAME_OVERHEAD;
      if (remaining < total) {
        this.keep(chunk, pos, total);
        return;
      }
      const endAt = pos + FRAME_HEADER_SIZE + size;
      if (chunk[endAt] !== Constants.FRAME_END) {
        throw frameError(`bad frame end octet 0x${chunk[endAt]!.toString(16)} (expected 0xce)`);
      }
      const payload = chunk.subarray(pos + FRAME_HEADER_SIZE, endAt);
      pos = endAt + 1;
      this.handler.onFrame(type, channel, payload);
    }
  }

  /** Returns the offset after the header, or -1 when more bytes are needed (or the header was rejected). */
  private readProtocolHeader(chunk: Buffer): number {
    const n = Math.min(chunk.length, PROTOCOL_HEADER.length);
    for (let i = 0; i < n; i++) {
      if (chunk[i] !== PROTOCOL_HEADER[i]) {
        // Wrong protocol (or garbage): report at once, there is nothing to wait for.
        this.stop();
        this.handler.onProtocolHeader(false, chunk.subarray(0, n));
        return -1;
      }
    }
    if (chunk.length < PROTOCOL_HEADER.length) {
      this.keep(chunk, 0, PROTOCOL_HEADER.length);
      return -1;
    }
    this.awaitingHeader = false;
    this.handler.onProtocolHeader(true, chunk.subarray(0, PROTOCOL_HEADER.length));
    return PROTOCOL_HEADER.length;
  }

  private keep(chunk: Buffer, pos: number, needed: number): void {
    if (pos < chunk.length) {
      this.parts.push(chunk.subarray(pos));
      this.buffered = chunk.length - pos;
    }
    this.needed = needed;
  }
}
