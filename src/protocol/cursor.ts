import { syntaxError } from './errors.js';

/**
 * A bounds-checked read position over one frame payload. Every read that
 * would run past `end` throws a 502 SYNTAX_ERROR: a truncated field is the
 * peer's fault, never a crash.
 */
export class Cursor {
  buf: Buffer;
  pos: number;
  end: number;

  constructor(buf: Buffer, pos = 0, end = buf.length) {
    this.buf = buf;
    this.pos = pos;
    this.end = end;
  }

  need(n: number): number {
    const at = this.pos;
    if (at + n > this.end) throw syntaxError(`truncated field: needed ${n} bytes at offset ${at}, have ${this.end - at}`);
    this.pos = at + n;
    return at;
  }

  u8(): number { return this.buf[this.need(1)]!; }
  i8(): number { return this.buf.readInt8(this.need(1)); }
  u16(): number { return this.buf.readUInt16BE(this.need(2)); }
  i16(): number { return this.buf.readInt16BE(this.need(2)); }
  u32(): number { return this.buf.readUInt32BE(this.need(4)); }
  i32(): number { return this.buf.readInt32BE(this.need(4)); }
  f32(): number { return this.buf.readFloatBE(this.need(4)); }
  f64(): number { return this.buf.readDoubleBE(this.need(8)); }
  /** Unsigned 64-bit as a number; exact up to 2^53, which delivery tags and timestamps never reach. */
  u64(): number {
    const at = this.need(8);
    return this.buf.readUInt32BE(at) * 0x1_0000_0000 + this.buf.readUInt32BE(at + 4);
  }
  i64(): bigint { return this.buf.readBigInt64BE(this.need(8)); }

  shortstr(): string {
    const len = this.u8();
    const at = this.need(len);
    return this.buf.toString('utf8', at, at + len);
  }

  longstrBytes(): Buffer {
    const len = this.u32();
    const at = this.need(len);
    return this.buf.subarray(at, at + len);
  }

  longstr(): string {
    const len = this.u32();
    const at = this.need(len);
    return this.buf.toString('utf8', at, at + len);
  }
}
