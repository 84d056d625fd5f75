/**
 * Reading PUBLISH records back from the message log's segments (page-in,
 * peek, compaction): synchronously, through one read-ahead window, so paging
 * a backlog in reads the file in large sequential chunks. Every record is
 * checked (length, checksum) before it is handed on.
 */
import { readSync } from 'node:fs';
import { decodePublish, recordProblem, type DecodedPublish } from './records.js';
import type { Segment } from './segment.js';

const READ_AHEAD = 256 * 1024;

export class RecordReader {
  private segment: Segment | null = null;
  private offset = 0;
  private window: Buffer = Buffer.alloc(0);

  /** Reads the record at `offset` (of `length` bytes) of `s`, which must be all written. */
  read(s: Segment, offset: number, length: number): DecodedPublish {
    if (offset + length > s.written) {
      throw new Error(`message log record ${s.id}:${offset} (${length} bytes) is not written yet (${s.written} of ${s.size} bytes are)`);
    }
    if (this.segment !== s || offset < this.offset || offset + length > this.offset + this.window.length) {
      const size = Math.min(Math.max(READ_AHEAD, length), s.written - offset);
      const buf = Buffer.allocUnsafe(size);
      let got = 0;
      while (got < size) {
        const n = readSync(s.fd, buf, got, size - got, offset + got);
        if (n === 0) break;
        got += n;
      }
      this.window = buf.subarray(0, got);
      this.segment = s;
      this.offset = offset;
    }
    const at = offset - this.offset;
    if (at + length > this.window.length) {
      this.segment = null;
      throw new Error(`message log record ${s.id}:${offset} (${length} bytes) is cut short in ${s.path}`);
    }
    const rec = this.window.subarray(at, at + length);
    // A page-in or a compaction must never hand on bytes that are not the record written.
    const problem = recordProblem(rec);
    if (problem !== null) {
      this.segment = null;
      throw new Error(`message log record ${s.id}:${offset} (${length} bytes) in ${s.path} is corrupt: ${problem}`);
    }
    return decodePublish(rec.subarray(8));
  }

  /** `s` is gone (deleted): never read from its window again. */
  forget(s: Segment): void {
    if (this.segment === s) this.segment = null;
  }
}
