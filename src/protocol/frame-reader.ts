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
  /**
   * Largest payload accepted (0 = no limit). A frame may be frame_max bytes in
   * all (payload frame_max − 8), but like RabbitMQ (its FRAME_SIZE_FUDGE) we
   * accept payloads up to frame_max itself: several clients forget the 8-byte
   * frame overhead when they split bodies.
   */
  maxPayload: number;
  private awaitingHeader = true;
  private parts: Buffer[] = [];
  private buffered = 0;
  /** Bytes needed before the buffered parts can make progress. */
  private needed = 0;
  private stopped = false;

  constructor(private readonly handler: FrameHandler, frameMax: number) {
    this.maxPayload = frameMax;
  }

  setFrameMax(frameMax: number): void {
    this.maxPayload = frameMax;
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
    let pos = 0;
    if (this.awaitingHeader) {
      pos = this.readProtocolHeader(chunk);
      if (pos < 0) return;
    } else if (this.buffered > 0) {
      pos = this.completeSplitFrame(chunk);
      if (pos < 0) return;
    }
    this.readFrames(chunk, pos);
  }

  /** Hands out every complete frame of `chunk` from `pos` as a view; keeps a trailing partial frame. */
  private readFrames(chunk: Buffer, pos: number): void {
    const len = chunk.length;
    while (!this.stopped) {
      const remaining = len - pos;
      if (remaining < FRAME_HEADER_SIZE) {
        this.keep(chunk, pos, FRAME_HEADER_SIZE);
        return;
      }
      const total = this.frameSize(chunk, pos) + FRAME_OVERHEAD;
      if (remaining < total) {
        this.keep(chunk, pos, total);
        return;
      }
      this.deliver(chunk, pos, total);
      pos += total;
    }
  }

  /**
   * Completes the frame split across chunks with bytes from the head of
   * `chunk`: only that frame is copied (one concatenation), and the rest of the
   * chunk stays zero-copy. Returns the offset after the bytes used, or -1 when
   * the frame is still incomplete.
   */
  private completeSplitFrame(chunk: Buffer): number {
    let pos = 0;
    if (this.buffered < FRAME_HEADER_SIZE) {
      // The frame header itself was split: gather its 7 bytes to learn the size.
      pos = Math.min(FRAME_HEADER_SIZE - this.buffered, chunk.length);
      this.parts.push(chunk.subarray(0, pos));
      this.buffered += pos;
      if (this.buffered < FRAME_HEADER_SIZE) return -1;
      const head = Buffer.concat(this.parts, this.buffered);
      this.parts = [head];
      this.needed = this.frameSize(head, 0) + FRAME_OVERHEAD;
    }
    const take = Math.min(this.needed - this.buffered, chunk.length - pos);
    if (take > 0) {
      this.parts.push(chunk.subarray(pos, pos + take));
      this.buffered += take;
      pos += take;
    }
    if (this.buffered < this.needed) return -1;
    const frame = Buffer.concat(this.parts, this.buffered);
    this.parts = [];
    this.buffered = 0;
    this.deliver(frame, 0, frame.length);
    return pos;
  }

  /** Validates the frame header at `pos` (type, size against frame_max) and returns the payload size. */
  private frameSize(buf: Buffer, pos: number): number {
    const size = buf.readUInt32BE(pos + 3);
    const max = this.maxPayload;
    if (max !== 0 && size > max) {
      // RabbitMQ's text: the frame type, the (empty) payload snippet, the size and the nominal payload limit.
      throw frameError(`type ${buf[pos]!}, all octets = <<>>: {frame_too_large,${size},${max - FRAME_OVERHEAD}}`);
    }
    const type = buf[pos]!;
    if (type !== Constants.FRAME_METHOD && type !== Constants.FRAME_HEADER && type !== Constants.FRAME_BODY && type !== Constants.FRAME_HEARTBEAT) {
      throw frameError(`unknown frame type ${type}`);
    }
    return size;
  }

  /** Checks the frame-end octet of the complete frame at `pos` and hands its payload out. */
  private deliver(buf: Buffer, pos: number, total: number): void {
    const endAt = pos + total - 1;
    if (buf[endAt] !== Constants.FRAME_END) {
      throw frameError(`bad frame end octet 0x${buf[endAt]!.toString(16)} (expected 0xce)`);
    }
    const channel = (buf[pos + 1]! << 8) | buf[pos + 2]!;
    this.handler.onFrame(buf[pos]!, channel, buf.subarray(pos + FRAME_HEADER_SIZE, endAt));
  }

  /**
   * Checks the protocol header byte by byte as it arrives: a mismatch is
   * reported at once (there is nothing to wait for). Returns the offset in
   * `chunk` after the header, or -1 when more bytes are needed (or the header
   * was rejected).
   */
  private readProtocolHeader(chunk: Buffer): number {
    const have = this.buffered;
    const n = Math.min(chunk.length, PROTOCOL_HEADER.length - have);
    for (let i = 0; i < n; i++) {
      if (chunk[i] !== PROTOCOL_HEADER[have + i]) {
        const received = have === 0 ? chunk.subarray(0, n) : Buffer.concat([...this.parts, chunk.subarray(0, n)]);
        this.stop();
        this.handler.onProtocolHeader(false, received);
        return -1;
      }
    }
    if (have + n < PROTOCOL_HEADER.length) {
      if (n > 0) this.parts.push(chunk.subarray(0, n));
      this.buffered += n;
      return -1;
    }
    const header = have === 0 ? chunk.subarray(0, n) : Buffer.concat([...this.parts, chunk.subarray(0, n)]);
    this.parts = [];
    this.buffered = 0;
    this.awaitingHeader = false;
    this.handler.onProtocolHeader(true, header);
    return n;
  }

  /** Keeps the partial frame at the end of `chunk` (a view) until `needed` bytes of it have arrived. */
  private keep(chunk: Buffer, pos: number, needed: number): void {
    if (pos < chunk.length) {
      this.parts.push(chunk.subarray(pos));
      this.buffered = chunk.length - pos;
    }
    this.needed = needed;
  }
}
