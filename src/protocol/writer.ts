/** First slab: small, so an idle connection costs little memory. */
const DEFAULT_SLAB = 1024;
/** Each new slab doubles up to this, so a busy connection refills rarely. */
const MAX_SLAB = 64 * 1024;

/**
 * The encoder's output: a slab of bytes plus, in between, references to
 * buffers that are sent as they are (message bodies — never copied).
 *
 * Bytes already handed out (by `take()` or `drain()`) are never written
 * again: when the slab fills, the bytes not yet handed out move to a fresh
 * slab and the old one lives on only in the views given away. Positions
 * remembered while encoding a frame (to patch a length later) are taken with
 * `mark()` and are relative to the unhanded segment, so they survive a move.
 */
export class ByteWriter {
  buf: Buffer;
  pos = 0;
  /** Start of the bytes not yet handed out. */
  private segStart = 0;
  private chunks: Buffer[] = [];
  /** Bytes in `chunks` (closed segments and refs). */
  private chunkBytes = 0;
  private slabSize: number;

  constructor(slabSize = DEFAULT_SLAB) {
    this.slabSize = slabSize;
    this.buf = Buffer.allocUnsafe(slabSize);
  }

  ensure(n: number): void {
    if (this.pos + n <= this.buf.length) return;
    const live = this.pos - this.segStart;
    this.slabSize = Math.min(this.slabSize * 2, MAX_SLAB);
    const grown = Buffer.allocUnsafe(Math.max(this.slabSize, 2 * (live + n)));
    this.buf.copy(grown, 0, this.segStart, this.pos);
    this.buf = grown;
    this.segStart = 0;
    this.pos = live;
  }

  /** A position to patch later, valid across slab moves (until the next take/drain/appendRef). */
  mark(): number { return this.pos - this.segStart; }
  patchU32(mark: number, v: number): void { this.buf.writeUInt32BE(v, this.segStart + mark); }
  patchU16(mark: number, v: number): void { this.buf.writeUInt16BE(v, this.segStart + mark); }

  u8(v: number): void { this.ensure(1); this.buf[this.pos++] = v; }
  i8(v: number): void { this.ensure(1); this.pos = this.buf.writeInt8(v, this.pos); }
  u16(v: number): void { this.ensure(2); this.pos = this.buf.writeUInt16BE(v, this.pos); }
  i16(v: number): void { this.ensure(2); this.pos = this.buf.writeInt16BE(v, this.pos); }
  u32(v: number): void { this.ensure(4); this.pos = this.buf.writeUInt32BE(v, this.pos); }
  i32(v: number): void { this.ensure(4); this.pos = this.buf.writeInt32BE(v, this.pos); }
  f32(v: number): void { this.ensure(4); this.pos = this.buf.writeFloatBE(v, this.pos); }
  f64(v: number): void { this.ensure(8); this.pos = this.buf.writeDoubleBE(v, this.pos); }
  /** Unsigned 64-bit from a number (exact up to 2^53). */
  u64(v: number): void {
    this.ensure(8);
    this.buf.writeUInt32BE(Math.floor(v / 0x1_0000_0000), this.pos);
    this.buf.writeUInt32BE(v >>> 0, this.pos + 4);
    this.pos += 8;
  }
  i64(v: bigint): void { this.ensure(8); this.pos = this.buf.writeBigInt64BE(v, this.pos); }

  bytes(b: Uint8Array): void {
    this.ensure(b.length);
    this.buf.set(b, this.pos);
    this.pos += b.length;
  }

  shortstr(s: string): void {
    // Fast path for the common short ASCII/UTF-8 name: write, then check the byte count.
    this.ensure(1 + 3 * s.length);
    const len = this.buf.write(s, this.pos + 1, 'utf8');
    if (len > 255) throw new RangeError(`shortstr longer than 255 bytes (${len})`);
    this.buf[this.pos] = len;
    this.pos += 1 + len;
  }

  longstr(s: string | Uint8Array): void {
    if (typeof s === 'string') {
      this.ensure(4 + 3 * s.length);
      const len = this.buf.write(s, this.pos + 4, 'utf8');
      this.buf.writeUInt32BE(len, this.pos);
      this.pos += 4 + len;
    } else {
      this.u32(s.length);
      this.bytes(s);
    }
  }

  /** Queue `b` to go out after the bytes written so far, without copying it. */
  appendRef(b: Buffer): void {
    this.closeSegment();
    this.chunks.push(b);
    this.chunkBytes += b.length;
  }

  /** Everything written since the last take/drain, as one buffer (a view, not a copy). Refs are not allowed here. */
  take(): Buffer {
    if (this.chunks.length) throw new Error('take() after appendRef(): use drain()');
    const out = this.buf.subarray(this.segStart, this.pos);
    this.segStart = this.pos;
    return out;
  }

  /** Everything written since the last take/drain, as the list of chunks to send in order. */
  drain(): Buffer[] {
    this.closeSegment();
    const out = this.chunks;
    this.chunks = [];
    this.chunkBytes = 0;
    return out;
  }

  /** Bytes and refs waiting to be drained. */
  get pendingBytes(): number {
    return this.chunkBytes + this.pos - this.segStart;
  }

  get isEmpty(): boolean {
    return this.pos === this.segStart && this.chunks.length === 0;
  }

  private closeSegment(): void {
    if (this.pos > this.segStart) {
      this.chunks.push(this.buf.subarray(this.segStart, this.pos));
      this.chunkBytes += this.pos - this.segStart;
      this.segStart = this.pos;
    }
  }
}
