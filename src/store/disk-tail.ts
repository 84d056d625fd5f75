/**
 * The part of a deep queue that lives only on disk: a FIFO of record
 * locations in typed-array columns (about 33 bytes per message, no object
 * per message), paged back into memory as the queue's head drains.
 */
export interface DiskRef {
  segment: number;
  offset: number;
  length: number;
  msgId: number;
  redelivered: boolean;
  /** A persistent message (else a transient one paged out to save memory). */
  persistent: boolean;
  /** Expiry in this queue (ms since the epoch), 0 for never. */
  expiresAt: number;
  /** Body size, for x-max-length-bytes. */
  bodySize: number;
}

const REDELIVERED = 1;
const PERSISTENT = 2;

export class DiskTail {
  private seg = new Uint32Array(1024);
  private off = new Uint32Array(1024);
  private len = new Uint32Array(1024);
  private ids = new Float64Array(1024);
  private flags = new Uint8Array(1024);
  private exp = new Float64Array(1024);
  private bytes = new Uint32Array(1024);
  private head = 0;
  private size = 0;

  get length(): number {
    return this.size;
  }

  push(segment: number, offset: number, length: number, msgId: number, redelivered: boolean, persistent: boolean, expiresAt: number, bodySize: number): void {
    if (this.size === this.seg.length) this.grow();
    const i = (this.head + this.size) % this.seg.length;
    this.seg[i] = segment;
    this.off[i] = offset;
    this.len[i] = length;
    this.ids[i] = msgId;
    this.flags[i] = (redelivered ? REDELIVERED : 0) | (persistent ? PERSISTENT : 0);
    this.exp[i] = expiresAt;
    this.bytes[i] = bodySize;
    this.size++;
  }

  /** Removes the first entry into `out` (reused, to allocate nothing); false when empty. */
  shiftInto(out: DiskRef): boolean {
    if (this.size === 0) return false;
    this.peekInto(out);
    this.head = (this.head + 1) % this.seg.length;
    this.size--;
    if (this.size === 0) this.head = 0;
    return true;
  }

  peekInto(out: DiskRef, index = 0): boolean {
    if (index >= this.size) return false;
    const i = (this.head + index) % this.seg.length;
    out.segment = this.seg[i]!;
    out.offset = this.off[i]!;
    out.length = this.len[i]!;
    out.msgId = this.ids[i]!;
    out.redelivered = (this.flags[i]! & REDELIVERED) !== 0;
    out.persistent = (this.flags[i]! & PERSISTENT) !== 0;
    out.expiresAt = this.exp[i]!;
    out.bodySize = this.bytes[i]!;
    return true;
  }

  /** Calls `fn(index, ref)` for every entry in segment `segmentId`, oldest first. */
  forEachIn(segmentId: number, fn: (index: number, ref: DiskRef) => void): void {
    const ref: DiskRef = { segment: 0, offset: 0, length: 0, msgId: 0, redelivered: false, persistent: false, expiresAt: 0, bodySize: 0 };
    for (let k = 0; k < this.size; k++) {
      const i = (this.head + k) % this.seg.length;
      if (this.seg[i] !== segmentId) continue;
      this.peekInto(ref, k);
      fn(k, ref);
    }
  }

  /** Points entry `index` at a new record location (compaction moved it). */
  relocate(index: number, segment: number, offset: number, length: number): void {
    const i = (this.head + index) % this.seg.length;
    this.seg[i] = segment;
    this.off[i] = offset;
    this.len[i] = length;
  }

  clear(): void {
    this.head = 0;
    this.size = 0;
  }

  private grow(): void {
    const cap = this.seg.length * 2;
    const copy = <T extends Uint32Array | Float64Array | Uint8Array>(from: T, make: (n: number) => T): T => {
      const to = make(cap);
      for (let k = 0; k < this.size; k++) to[k] = from[(this.head + k) % from.length]!;
      return to;
    };
    this.seg = copy(this.seg, (n) => new Uint32Array(n));
    this.off = copy(this.off, (n) => new Uint32Array(n));
    this.len = copy(this.len, (n) => new Uint32Array(n));
    this.ids = copy(this.ids, (n) => new Float64Array(n));
    this.flags = copy(this.flags, (n) => new Uint8Array(n));
    this.exp = copy(this.exp, (n) => new Float64Array(n));
    this.bytes = copy(this.bytes, (n) => new Uint32Array(n));
    this.head = 0;
  }
}
